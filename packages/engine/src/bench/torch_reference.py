#!/usr/bin/env python3
"""PyTorch reference for the engine bench: the same decoder (Llama / Qwen3 shape, SwiGLU,
RMSNorm, RoPE, causal GQA attention) with frozen base weights and LoRA on every linear of every
layer, timed for one training step (forward + cross-entropy + backward + AdamW) and for
decoding with a KV cache (1 sequence, then 16 samples together).

torch's best configuration on this machine (engine notes §4) is OpenBLAS on its AVX-512
kernels with one OpenBLAS thread and torch's own 2 threads; the environment is set before
torch is imported, because OpenBLAS reads it when the library loads. torch's thread count is
tried at 1 and 2 and each metric keeps its best (under load from other processes 1 wins).

Run by engine-bench.js with /usr/bin/python3; prints one JSON line with --json.
"""
import os

import re

os.environ["OPENBLAS_NUM_THREADS"] = "1"
try:
    with open("/proc/cpuinfo") as f:
        # SkylakeX kernels need AVX-512 (SIGILL otherwise); without it OpenBLAS picks its own.
        if re.search(r"\bavx512f\b", f.read()):
            os.environ["OPENBLAS_CORETYPE"] = "SkylakeX"
except OSError:
    pass

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def parse_args():
    p = argparse.ArgumentParser()
    for name, default in [("layers", 4), ("d", 256), ("heads", 8), ("kv-heads", 8), ("head-dim", 32), ("ff", 1024),
                          ("vocab", 8192), ("tied", 0), ("qk-norm", 0), ("batch", 8), ("seq", 256), ("rank", 8),
                          ("warmup", 2), ("steps", 6), ("decode-tokens", 128), ("decode-tokens-batched", 64)]:
        p.add_argument("--" + name, type=int, default=default)
    p.add_argument("--rope-theta", type=float, default=10000.0)
    p.add_argument("--eps", type=float, default=1e-5)
    p.add_argument("--lora-alpha", type=float, default=16.0)
    # torch's intra-op thread counts to try; each metric reports its best. On an idle machine 2 is
    # best (engine notes §4); when other processes load the cores, its spinning OpenMP pool can be
    # several times slower than 1 thread, so both are measured.
    p.add_argument("--threads", default="1,2")
    p.add_argument("--json", action="store_true")
    return p.parse_args()


class LoraLinear(torch.nn.Module):
    """Frozen W [out, in] plus trainable (alpha/r)·B·A, PEFT layout and init (B = 0)."""

    def __init__(self, in_dim, out_dim, rank, alpha):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(out_dim, in_dim) * 0.02, requires_grad=False)
        self.lora_A = torch.nn.Parameter(torch.empty(rank, in_dim).uniform_(-1 / math.sqrt(in_dim), 1 / math.sqrt(in_dim)))
        self.lora_B = torch.nn.Parameter(torch.zeros(out_dim, rank))
        self.scale = alpha / rank

    def forward(self, x):
        return F.linear(x, self.weight) + self.scale * F.linear(F.linear(x, self.lora_A), self.lora_B)


class RMSNorm(torch.nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(dim), requires_grad=False)
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(max_pos, head_dim, theta):
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    ang = torch.outer(torch.arange(max_pos, dtype=torch.float32), inv)
    emb = torch.cat([ang, ang], dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


class Block(torch.nn.Module):
    def __init__(self, a):
        super().__init__()
        d, hd = a.d, a.head_dim
        self.h, self.kvh, self.hd = a.heads, a.kv_heads, hd
        r, al = a.rank, a.lora_alpha
        self.q = LoraLinear(d, a.heads * hd, r, al)
        self.k = LoraLinear(d, a.kv_heads * hd, r, al)
        self.v = LoraLinear(d, a.kv_heads * hd, r, al)
        self.o = LoraLinear(a.heads * hd, d, r, al)
        self.gate = LoraLinear(d, a.ff, r, al)
        self.up = LoraLinear(d, a.ff, r, al)
        self.down = LoraLinear(a.ff, d, r, al)
        self.n1 = RMSNorm(d, a.eps)
        self.n2 = RMSNorm(d, a.eps)
        self.qn = RMSNorm(hd, a.eps) if a.qk_norm else None
        self.kn = RMSNorm(hd, a.eps) if a.qk_norm else None

    def forward(self, x, cos, sin, cache=None):
        B, T, _ = x.shape
        h = self.n1(x)
        q = self.q(h).view(B, T, self.h, self.hd)
        k = self.k(h).view(B, T, self.kvh, self.hd)
        v = self.v(h).view(B, T, self.kvh, self.hd)
        if self.qn is not None:
            q, k = self.qn(q), self.kn(k)
        q = q.transpose(1, 2)
        k = k.transpose(1, 2)
        v = v.transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            if cache.get("k") is not None:
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        rep = self.h // self.kvh
        kk = k.repeat_interleave(rep, dim=1)
        vv = v.repeat_interleave(rep, dim=1)
        # Written out (torch 1.13 has no scaled_dot_product_attention).
        scores = torch.matmul(q, kk.transpose(-1, -2)) / math.sqrt(self.hd)
        if T > 1:
            S = kk.shape[2]
            mask = torch.ones(T, S, dtype=torch.bool).tril(diagonal=S - T)
            scores = scores.masked_fill(~mask, float("-inf"))
        att = torch.matmul(torch.softmax(scores, dim=-1), vv)
        x = x + self.o(att.transpose(1, 2).reshape(B, T, self.h * self.hd))
        h = self.n2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


class Model(torch.nn.Module):
    def __init__(self, a):
        super().__init__()
        self.embed = torch.nn.Parameter(torch.randn(a.vocab, a.d) * 0.02, requires_grad=False)
        self.blocks = torch.nn.ModuleList([Block(a) for _ in range(a.layers)])
        self.norm = RMSNorm(a.d, a.eps)
        self.head = self.embed if a.tied else torch.nn.Parameter(torch.randn(a.vocab, a.d) * 0.02, requires_grad=False)
        self.cos, self.sin = rope_tables(4096, a.head_dim, a.rope_theta)

    def forward(self, tokens, start=0, caches=None):
        T = tokens.shape[1]
        cos, sin = self.cos[start:start + T], self.sin[start:start + T]
        x = F.embedding(tokens, self.embed)
        for i, b in enumerate(self.blocks):
            x = b(x, cos, sin, None if caches is None else caches[i])
        return F.linear(self.norm(x), self.head)


def measure(a, model, opt, tokens):
    """Median training step (seconds), the first step's loss per token, decode rates (tok/s)."""
    times = []
    first_loss = None
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        logits = model(tokens[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, a.vocab), tokens[:, 1:].reshape(-1), reduction="sum")
        if first_loss is None:
            first_loss = loss.item() / (a.batch * a.seq)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)

    prompt = (torch.arange(16) * 31 + 5) % a.vocab

    @torch.no_grad()
    def sample(n, steps):
        caches = [dict() for _ in model.blocks]
        logits = model(prompt.repeat(n, 1), 0, caches)
        pos = prompt.shape[0]
        for _ in range(steps - 1):
            probs = torch.softmax(logits[:, -1], dim=-1)
            nxt = torch.multinomial(probs, 1)
            logits = model(nxt, pos, caches)
            pos += 1

    def timed(n, steps):
        t0 = time.perf_counter()
        sample(n, steps)
        return time.perf_counter() - t0

    # Decode rate excludes the prompt: time (prefill + n tokens) minus time (prefill + 1 token).
    # Median of 3 alternating pairs, as the engine bench does.
    timed(1, 2)
    d1s, d16s = [], []
    for _ in range(3):
        d1s.append(timed(1, a.decode_tokens) - timed(1, 1))
        d16s.append(timed(16, a.decode_tokens_batched) - timed(16, 1))
    d1, d16 = statistics.median(d1s), statistics.median(d16s)
    return statistics.median(times), first_loss, (a.decode_tokens - 1) / d1, 16 * (a.decode_tokens_batched - 1) / d16


def main():
    a = parse_args()
    torch.manual_seed(0)
    model = Model(a)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.95), eps=1e-12, weight_decay=0.0)
    tokens = torch.randint(0, a.vocab, (a.batch, a.seq + 1))
    runs = {}
    for threads in [int(t) for t in a.threads.split(",")]:
        torch.set_num_threads(threads)
        runs[threads] = measure(a, model, opt, tokens)
    best_train = min(runs, key=lambda t: runs[t][0])
    best_d1 = max(runs, key=lambda t: runs[t][2])
    best_d16 = max(runs, key=lambda t: runs[t][3])
    step = runs[best_train][0]
    result = {
        "step_ms": step * 1000,
        "train_tok_per_s": a.batch * a.seq / step,
        "decode1_tok_per_s": runs[best_d1][2],
        "decode16_tok_per_s": runs[best_d16][3],
        "threads": {"train": best_train, "decode1": best_d1, "decode16": best_d16},
        "per_threads": {str(t): {"step_ms": r[0] * 1000, "decode1_tok_per_s": r[2], "decode16_tok_per_s": r[3]} for t, r in runs.items()},
        "torch": torch.__version__,
        "loss_per_token": next(iter(runs.values()))[1],
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
    }
    print(json.dumps(result) if a.json else result)


if __name__ == "__main__":
    main()
