#!/usr/bin/python3
"""The work of bench/attention.c in PyTorch (see that file for what each result is).

    /usr/bin/python3 bench/attention_torch.py [--threads 1 2] [--env shipped]

    attn.b16h6t256d64    causal attention, q k v [16, 6, 256, 64]
    attn.b32h4t64d32     causal attention, q k v [32, 4, 64, 32]

torch's fused kernel F.scaled_dot_product_attention(q, k, v, is_causal=True) (torch 1.13,
Debian's: F._scaled_dot_product_attention); with --explicit, softmax(q kᵀ * scale + mask) v
from separate ops (named attn_explicit.*). .fwd under no_grad; .step = forward and
y.backward(gy) with q, k, v requiring gradients.
"""
import math

import torch
import torch.nn.functional as F

import torchbench


def fill(shape, seed, lo, hi):
    n = 1
    for s in shape:
        n *= s
    h = (torch.arange(n, dtype=torch.int64) * 2654435761 + seed * 40503) & 0xFFFFFF
    return (h.float() / 16777216.0 * (hi - lo) + lo).reshape(shape)


def sumsq(t):
    return f"{float((t.double() ** 2).sum()):.6g}"


def sdpa(q, k, v):
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return F._scaled_dot_product_attention(q, k, v, None, 0.0, False, True)[0]


def explicit(q, k, v):
    t = q.shape[-2]
    mask = torch.full((t, t), float("-inf")).triu(1)
    return torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + mask, dim=-1) @ v


def main():
    args = torchbench.parse_args(__doc__, lambda ap: ap.add_argument("--explicit", action="store_true"))
    tm = torchbench.Timer(args)
    tm.min_reps = 10
    torchbench.header("causal attention forward / forward+backward", args)
    f = explicit if args.explicit else sdpa
    prefix = "attn_explicit" if args.explicit else "attn"
    for threads in args.threads:
        torch.set_num_threads(threads)
        for name, shape in (("b16h6t256d64", (16, 6, 256, 64)), ("b32h4t64d32", (32, 4, 64, 32))):
            q = fill(shape, 1, -2, 2).requires_grad_(True)
            k = fill(shape, 2, -2, 2).requires_grad_(True)
            v = fill(shape, 3, -1, 1).requires_grad_(True)
            gy = fill(shape, 4, -1, 1)

            def fwd():
                with torch.no_grad():
                    return f(q, k, v)

            def step():
                q.grad = k.grad = v.grad = None
                f(q, k, v).backward(gy)

            tm.run(f"{prefix}.{name}.fwd", threads, fwd, warmup=2, check=sumsq(fwd()))
            step()
            tm.run(f"{prefix}.{name}.step", threads, step, warmup=2, check=sumsq(q.grad))


if __name__ == "__main__":
    main()
