#!/usr/bin/env python3
"""transformers + PEFT reference for the engine bench's MoE case: Qwen3MoeForCausalLM (random init,
f32) with PEFT LoRA on the attention projections and the experts (target_modules q/k/v/o and
gate/up/down, which PEFT 0.21 maps onto the stacked expert parameters), timed for one training
step (forward + cross-entropy + backward + AdamW) and for decoding with the KV cache (generate,
1 sequence and 16 samples; the rate excludes the prompt by differencing against a 1-token run).

Run by engine-bench.js with TINKER_TORCH_PYTHON; prints one JSON line with --json.
"""
import argparse
import json
import statistics
import time

import torch


def parse_args():
    p = argparse.ArgumentParser()
    for name, default in [("layers", 4), ("d", 512), ("heads", 8), ("kv-heads", 4), ("head-dim", 64), ("experts", 32),
                          ("top-k", 4), ("moe-ff", 192), ("vocab", 8192), ("batch", 4), ("seq", 256), ("rank", 8),
                          ("warmup", 1), ("steps", 3), ("decode-tokens", 32), ("decode-tokens-batched", 16)]:
        p.add_argument("--" + name, type=int, default=default)
    p.add_argument("--lora-alpha", type=float, default=16.0)
    # torch's intra-op thread counts to try; each metric keeps its best (as in torch_reference.py:
    # under load from other processes 1 thread is often several times faster than 2).
    p.add_argument("--threads", default="1,2")
    p.add_argument("--json", action="store_true")
    return p.parse_args()


def measure(a, threads):
    torch.set_num_threads(threads)
    import peft
    import transformers
    from peft import LoraConfig, get_peft_model
    from transformers import Qwen3MoeConfig, Qwen3MoeForCausalLM

    cfg = Qwen3MoeConfig(vocab_size=a.vocab, hidden_size=a.d, intermediate_size=4 * a.d, moe_intermediate_size=a.moe_ff,
                         num_hidden_layers=a.layers, num_attention_heads=a.heads, num_key_value_heads=a.kv_heads,
                         head_dim=a.head_dim, num_experts=a.experts, num_experts_per_tok=a.top_k, norm_topk_prob=True,
                         tie_word_embeddings=False, max_position_embeddings=4096)
    torch.manual_seed(0)
    model = Qwen3MoeForCausalLM(cfg).float()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("mlp.gate.weight"):
                p.normal_(0, 0.02)
    lora = LoraConfig(r=a.rank, lora_alpha=a.lora_alpha, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    model = get_peft_model(model, lora)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95), eps=1e-12, weight_decay=0)
    g = torch.Generator().manual_seed(7)
    tokens = torch.randint(0, a.vocab, (a.batch, a.seq + 1), generator=g)
    times = []
    loss_per_token = float("nan")
    for i in range(a.warmup + a.steps):
        s = time.perf_counter()
        opt.zero_grad()
        logits = model(input_ids=tokens[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, a.vocab), tokens[:, 1:].reshape(-1), reduction="sum")
        loss.backward()
        opt.step()
        if i >= a.warmup:
            times.append(time.perf_counter() - s)
        loss_per_token = loss.item() / (a.batch * a.seq)
    step = statistics.median(times)

    model.eval()
    prompt = torch.tensor([[(i * 31 + 5) % a.vocab for i in range(16)]])

    def gen(n, samples):
        s = time.perf_counter()
        with torch.no_grad():
            model.generate(input_ids=prompt, max_new_tokens=n, min_new_tokens=n, do_sample=True, num_return_sequences=samples,
                           pad_token_id=0, eos_token_id=None)
        return time.perf_counter() - s

    gen(2, 1)
    d1 = statistics.median([gen(a.decode_tokens, 1) - gen(1, 1) for _ in range(3)])
    d16 = statistics.median([gen(a.decode_tokens_batched, 16) - gen(1, 16) for _ in range(3)])
    out = {
        "step_ms": step * 1000, "train_tok_per_s": a.batch * a.seq / step,
        "decode1_tok_per_s": (a.decode_tokens - 1) / d1, "decode16_tok_per_s": 16 * (a.decode_tokens_batched - 1) / d16,
        "loss_per_token": loss_per_token,
        "torch": f"{torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}",
        "trainable": sum(p.numel() for p in params),
    }
    return out


def main():
    a = parse_args()
    runs = {int(t): measure(a, int(t)) for t in a.threads.split(",")}
    best = {}
    threads = {}
    for key, metric in [("train", "train_tok_per_s"), ("decode1", "decode1_tok_per_s"), ("decode16", "decode16_tok_per_s")]:
        t = max(runs, key=lambda n: runs[n][metric])
        threads[key] = t
        best[metric] = runs[t][metric]
    out = {**runs[threads["train"]], **best, "threads": threads}
    out["step_ms"] = a.batch * a.seq / out["train_tok_per_s"] * 1000
    print(json.dumps(out) if a.json else out)


if __name__ == "__main__":
    main()
