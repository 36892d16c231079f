#!/usr/bin/python3
"""The work of bench/conv.c in PyTorch, and the two side by side.

    /usr/bin/python3 bench/conv_torch.py [--repeats R] [--rounds K] [--zen build/bench/bench_conv]

For each layer and thread count (torch.set_num_threads(1 or 2)) it times
    y = F.conv2d(x, w, b, padding=p)            (fwd)
    y = F.conv2d(x, w, b, padding=p); y.backward(gy)   (step: fwd + dx, dw, db)
with the same shapes as bench/conv.c (the MNIST layer's input has no gradient, the
mid-size layer's has), and prints the median (and fastest) ms per step. With --zen it also
runs zen's bench binary and prints zen/torch ratios (below 1: zen is faster). On a machine
shared with other work, --rounds K alternates the two K times and keeps each number's best
(lowest) median, since interference only ever adds time.
"""
import argparse
import statistics
import subprocess
import time

import torch
import torch.nn.functional as F

LAYERS = [
    # name, N, C, H, W, OC, K, pad, input_grad
    ("mnist", 64, 1, 28, 28, 32, 3, 0, False),
    ("mid", 32, 64, 28, 28, 64, 3, 1, True),
]


def timed(fn, repeats):
    for _ in range(3):
        fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts), min(ts)


def bench_torch(repeats):
    rows = {}
    for name, n, c, h, w_, oc, k, pad, input_grad in LAYERS:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            g = torch.Generator().manual_seed(1)
            x = (torch.rand(n, c, h, w_, generator=g) * 2 - 1).requires_grad_(input_grad)
            w = ((torch.rand(oc, c, k, k, generator=g) * 2 - 1) * 0.3).requires_grad_(True)
            b = ((torch.rand(oc, generator=g) * 2 - 1) * 0.1).requires_grad_(True)
            gy = None

            def fwd():
                with torch.no_grad():
                    return F.conv2d(x, w, b, padding=pad)

            def step():
                nonlocal gy
                y = F.conv2d(x, w, b, padding=pad)
                if gy is None:
                    gy = torch.rand(y.shape, generator=g) * 2 - 1
                w.grad = b.grad = x.grad = None
                y.backward(gy)

            step()
            fwd_med, fwd_min = timed(fwd, repeats)
            step_med, step_min = timed(step, repeats)
            rows[(name, threads)] = (fwd_med, step_med, fwd_min, step_min)
    return rows


def bench_zen(binary, repeats):
    out = subprocess.run([binary, str(repeats)], check=True, capture_output=True, text=True).stdout
    rows = {}
    for line in out.splitlines():
        if line.startswith("#") or line.startswith("layer"):
            continue
        f = line.split()
        rows[(f[0], int(f[1]))] = tuple(map(float, f[2:6]))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--zen", help="path of zen's bench_conv binary, to print both side by side")
    args = ap.parse_args()
    t, z = {}, {}

    def keep_best(into, rows):
        for k, v in rows.items():
            into[k] = tuple(map(min, zip(into[k], v))) if k in into else v

    for _ in range(max(1, args.rounds)):
        keep_best(t, bench_torch(args.repeats))
        if args.zen:
            keep_best(z, bench_zen(args.zen, args.repeats))
    best = f", best of {args.rounds} rounds" if args.rounds > 1 else ""
    print(f"# conv2d in PyTorch {torch.__version__}, median of {args.repeats} runs{best}, ms per step")
    if not args.zen:
        print(f"{'layer':6} t  {'fwd_ms':>9}  {'step_ms':>9}  {'fwd_min':>9}  {'step_min':>9}")
        for (name, threads), v in t.items():
            print(f"{name:6} {threads}  " + "  ".join(f"{x:9.3f}" for x in v))
        return
    print(f"{'layer':6} t  {'zen fwd':>9} {'torch fwd':>9} {'ratio':>6}  {'zen step':>9} {'torch step':>10} {'ratio':>6}"
          f"   (fastest runs: step zen / torch)")
    for key, tv in t.items():
        zv = z[key]
        print(f"{key[0]:6} {key[1]}  {zv[0]:9.3f} {tv[0]:9.3f} {zv[0] / tv[0]:6.2f}  {zv[1]:9.3f} {tv[1]:10.3f} "
              f"{zv[1] / tv[1]:6.2f}   {zv[3]:.3f} / {tv[3]:.3f}")


if __name__ == "__main__":
    main()
