#!/usr/bin/env python3
"""transformers + PEFT reference for the engine's Qwen3-MoE parity test (src/qwen3-moe-parity.test.ts).

  make DIR                         writes a tiny random-init Qwen3MoeForCausalLM checkpoint (f32)
  run CKPT ADAPTER BATCH OUT       per-token logprobs of the base model and with the PEFT adapter,
                                   then two LoRA + AdamW steps; writes OUT/result.json and the
                                   trained adapter (save_pretrained) to OUT/trained

BATCH is JSON: {"seqs": [{"tokens": [...], "targets": [...], "weights": [...]}], "adam": {...}}.
The loss is -sum(weights * logprobs) over every sequence, each run unpadded.
"""
import json
import os
import sys

import torch
from peft import PeftModel
from transformers import Qwen3MoeConfig, Qwen3MoeForCausalLM


def make(out):
    cfg = Qwen3MoeConfig(
        vocab_size=97, hidden_size=32, intermediate_size=40, moe_intermediate_size=16, num_hidden_layers=3,
        num_attention_heads=4, num_key_value_heads=2, head_dim=8, num_experts=6, num_experts_per_tok=2,
        norm_topk_prob=True, decoder_sparse_step=1, mlp_only_layers=[1], rms_norm_eps=1e-6,
        max_position_embeddings=256, tie_word_embeddings=False, initializer_range=0.2,
    )
    torch.manual_seed(0)
    model = Qwen3MoeForCausalLM(cfg).float()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):  # norms start at ones; make them matter
                p.copy_(1 + 0.3 * torch.randn_like(p))
            elif name.endswith("mlp.gate.weight"):  # the router starts at zeros
                p.copy_(0.5 * torch.randn_like(p))
    model.save_pretrained(out, safe_serialization=True)


def logprobs(model, seqs):
    out = []
    for s in seqs:
        logits = model(input_ids=torch.tensor([s["tokens"]])).logits[0].float()
        lp = torch.log_softmax(logits, dim=-1).gather(1, torch.tensor(s["targets"]).unsqueeze(1)).squeeze(1)
        out.append(lp)
    return out


def run(ckpt, adapter, batch_path, out):
    torch.manual_seed(0)
    batch = json.load(open(batch_path))
    seqs = batch["seqs"]
    model = Qwen3MoeForCausalLM.from_pretrained(ckpt, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    result = {}
    with torch.no_grad():
        result["base"] = [lp.tolist() for lp in logprobs(model, seqs)]
    model = PeftModel.from_pretrained(model, adapter, is_trainable=True)
    with torch.no_grad():
        result["adapter"] = [lp.tolist() for lp in logprobs(model, seqs)]
    adam = batch["adam"]
    params = [p for p in model.parameters() if p.requires_grad]
    result["trainable_tensors"] = len(params)
    opt = torch.optim.AdamW(params, lr=adam["learning_rate"], betas=(adam["beta1"], adam["beta2"]), eps=adam["eps"],
                            weight_decay=adam["weight_decay"])
    result["losses"] = []
    for _ in range(2):
        opt.zero_grad()
        loss = sum(-(torch.tensor(s["weights"]) * lp).sum() for s, lp in zip(seqs, logprobs(model, seqs)))
        loss.backward()
        opt.step()
        result["losses"].append(loss.item())
    with torch.no_grad():
        result["trained"] = [lp.tolist() for lp in logprobs(model, seqs)]
    model.save_pretrained(os.path.join(out, "trained"))
    import peft
    import transformers
    result["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__}
    json.dump(result, open(os.path.join(out, "result.json"), "w"))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        run(*sys.argv[2:6])
