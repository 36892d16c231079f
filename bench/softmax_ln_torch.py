#!/usr/bin/python3
"""The work of bench/softmax_ln.c in PyTorch (see that file for what each result is).

    /usr/bin/python3 bench/softmax_ln_torch.py [--threads 1 2] [--env shipped]

    softmax.4096x1024    F.softmax(x, -1)
    ce.4096x1000         F.cross_entropy(x, t)      (t int64: torch's nll_loss takes no int32)
    ln_gelu.8192x768     F.gelu(F.layer_norm(x, [768], gamma, beta, 1e-5)) + x
    chain.16M            torch.exp(torch.relu(x * w + z))
.fwd under no_grad; .step = forward and y.backward(gy) (loss.backward() for ce) with every
input requiring a gradient. Inputs are the same numbers as zen's, so the check= sums of
squares (y; dx for steps) should match bench/softmax_ln.c's to about 5 digits.
"""
import torch
import torch.nn.functional as F

import torchbench


def fill(shape, seed, lo, hi):
    """Element i: lo + (hi - lo) * ((i * 2654435761 + seed * 40503) mod 2^24) / 2^24 (float32)."""
    n = 1
    for s in shape:
        n *= s
    h = (torch.arange(n, dtype=torch.int64) * 2654435761 + seed * 40503) & 0xFFFFFF
    return (h.float() / 16777216.0 * (hi - lo) + lo).reshape(shape)


def sumsq(t):
    return f"{float((t.double() ** 2).sum()):.6g}"


def measure(tm, name, threads, f, inputs, gy, min_reps=20):
    """f(*inputs) forward under no_grad, then forward + backward(gy) (gy None: scalar)."""
    def fwd():
        with torch.no_grad():
            return f(*inputs)

    def step():
        for t in inputs:
            t.grad = None
        y = f(*inputs)
        if gy is None:
            y.backward()
        else:
            y.backward(gy)

    tm.min_reps = min_reps
    tm.run(f"{name}.fwd", threads, fwd, warmup=2, check=sumsq(fwd()))
    step()
    check = sumsq(inputs[0].grad)
    tm.run(f"{name}.step", threads, step, warmup=2, check=check)


def main():
    args = torchbench.parse_args(__doc__)
    tm = torchbench.Timer(args)
    torchbench.header("softmax / cross-entropy / layernorm+gelu / elementwise chain", args)
    for threads in args.threads:
        torch.set_num_threads(threads)
        x = fill((4096, 1024), 1, -4, 4).requires_grad_(True)
        measure(tm, "softmax.4096x1024", threads, lambda x: F.softmax(x, -1), [x], fill((4096, 1024), 2, -1, 1))

        x = fill((4096, 1000), 3, -4, 4).requires_grad_(True)
        t = (torch.arange(4096, dtype=torch.int64) * 7919 + 13) % 1000
        measure(tm, "ce.4096x1000", threads, lambda x: F.cross_entropy(x, t), [x], None)

        x = fill((8192, 768), 4, -2, 2).requires_grad_(True)
        gamma = fill((768,), 6, 0.5, 1.5).requires_grad_(True)
        beta = fill((768,), 7, -0.5, 0.5).requires_grad_(True)
        measure(tm, "ln_gelu.8192x768", threads,
                lambda x, gamma, beta: F.gelu(F.layer_norm(x, [768], gamma, beta, 1e-5)) + x,
                [x, gamma, beta], fill((8192, 768), 5, -1, 1))
        del x, gamma, beta

        n = 16 << 20
        x, w, z = (fill((n,), s, -1, 1).requires_grad_(True) for s in (8, 9, 10))
        measure(tm, "chain.16M", threads, lambda x, w, z: torch.exp(torch.relu(x * w + z)), [x, w, z],
                fill((n,), 11, -1, 1), min_reps=10)
        del x, w, z


if __name__ == "__main__":
    main()
