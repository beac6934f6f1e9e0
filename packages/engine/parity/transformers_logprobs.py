#!/usr/bin/env python3
"""Per-token target logprobs of a local Hugging Face checkpoint, computed by transformers.

Usage: transformers_logprobs.py MODEL_DIR DTYPE < sequences.json
DTYPE is bfloat16 or float32: the model is loaded in it and runs in it (as transformers runs
a bf16 model); the logits are taken to float32 before the log-softmax. stdin holds a JSON list
of token lists; stdout gets one JSON list per sequence with logprob(token[i+1] | tokens[..i]).
bf16-transformers-parity.test.ts runs it.
"""
import json
import sys

import torch
from transformers import AutoModelForCausalLM


def main() -> None:
    model_dir, dtype_name = sys.argv[1], sys.argv[2]
    dtype = {"bfloat16": torch.bfloat16, "float32": torch.float32}[dtype_name]
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype, attn_implementation="eager")
    model.eval()
    out = []
    with torch.no_grad():
        for tokens in json.load(sys.stdin):
            ids = torch.tensor([tokens[:-1]], dtype=torch.long)
            logits = model(input_ids=ids).logits[0].float()
            lp = torch.log_softmax(logits, dim=-1)
            targets = torch.tensor(tokens[1:], dtype=torch.long)
            out.append(lp.gather(1, targets[:, None])[:, 0].tolist())
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
