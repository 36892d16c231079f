#!/usr/bin/python3
"""The work of bench/gpt_train.c in PyTorch: training steps of a small GPT (issue 5
benchmarks a and b).

    /usr/bin/python3 bench/gpt_train_torch.py CONFIG [--threads T] [--steps N] [--env NAME]

CONFIG a: 6 layers, 6 heads, d_model 384, context 256, batch 16; b: 4 layers, 4 heads,
d_model 128, context 64, batch 32; vocab 65. The model is nanoGPT's, written the way a
PyTorch user writes it: token + learned position embeddings, pre-norm blocks of causal
self-attention (one c_attn Linear d->3d, with bias, split into q, k, v: the same parameters
as zen's three d->d projections) and an MLP (Linear d->4d, GELU (exact), Linear 4d->d),
final LayerNorm, untied lm head without bias, dropout 0. PyTorch 1.13 has no
scaled_dot_product_attention, so attention is nanoGPT's explicit form (q kᵀ * scale, causal
masked_fill, softmax, · v). Loss: F.cross_entropy over [B*T, 65]. AdamW(lr 3e-4,
weight_decay 0.01, eps 1e-7) over every parameter.

Data and timing as in zen's bench: a pool of 8 random-token batches (step s uses batch s mod
8), 3 warm-up steps, then STEPS timed steps of zero_grad + forward + loss + backward +
optimizer step; median. Prints
    RESULT torch.<env>.gpt_<config> threads=T median_ms=.. min_ms=.. reps=.. tokens_per_s=..
           params=<count> loss_first=.. loss_last=..
"""
import argparse
import math
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {"a": dict(layers=6, heads=6, d=384, ctx=256, batch=16, vocab=65, steps=10),
           "b": dict(layers=4, heads=4, d=128, ctx=64, batch=32, vocab=65, steps=40)}


class Block(nn.Module):
    def __init__(self, d, heads, ctx):
        super().__init__()
        self.heads = heads
        self.ln_1 = nn.LayerNorm(d)
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, 4 * d)
        self.proj = nn.Linear(4 * d, d)
        self.register_buffer("mask", torch.tril(torch.ones(ctx, ctx)).view(1, 1, ctx, ctx))

    def attn(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q = q.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        k = k.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        v = v.view(B, T, self.heads, C // self.heads).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.mask[:, :, :T, :T] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.proj(F.gelu(self.fc(self.ln_2(x))))


class GPT(nn.Module):
    def __init__(self, layers, heads, d, ctx, vocab):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(ctx, d)
        self.blocks = nn.ModuleList(Block(d, heads, ctx) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        for n, p in self.named_parameters():  # nanoGPT's init
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * layers) if n.endswith("c_proj.weight") or n.endswith(".proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)
            elif n.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, idx, targets):
        B, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for blk in self.blocks:
            x = blk(x)
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.view(B * T, -1), targets.view(B * T))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("config", choices=sorted(CONFIGS))
    ap.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1") or 1))
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--env", default=os.environ.get("ZEN_BENCH_TORCH_ENV", "shipped"))
    a = ap.parse_args()
    c = CONFIGS[a.config]
    steps = a.steps if a.steps > 0 else c["steps"]
    torch.set_num_threads(a.threads)
    torch.manual_seed(42)
    B, T, V = c["batch"], c["ctx"], c["vocab"]
    model = GPT(c["layers"], c["heads"], c["d"], T, V)
    nparams = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.01, eps=1e-7)
    g = torch.Generator().manual_seed(1)
    pool = torch.randint(0, V, (8, B * T + 1), generator=g)
    ts, first, last = [], None, None
    warmup = 3
    for s in range(warmup + steps):
        src = pool[s % 8]
        t0 = time.perf_counter()
        idx, tgt = src[:-1].view(B, T), src[1:]
        opt.zero_grad(set_to_none=True)
        loss = model(idx, tgt)
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if s >= warmup:
            ts.append(dt * 1e3)
        lv = loss.item()
        first = lv if first is None else first
        last = lv
    med = statistics.median(ts)
    print(f"RESULT torch.{a.env}.gpt_{a.config} threads={a.threads} median_ms={med:.4f} min_ms={min(ts):.4f} "
          f"reps={len(ts)} tokens_per_s={B * T / (med * 1e-3):.0f} params={nparams} loss_first={first:.4f} "
          f"loss_last={last:.4f}", flush=True)


if __name__ == "__main__":
    main()
