#!/usr/bin/python3
"""The work of bench/conv.c in PyTorch.

    /usr/bin/python3 bench/conv_torch.py [--threads 1 2] [--env shipped]

For each layer and thread count (torch.set_num_threads) it times
    y = F.conv2d(x, w, b, padding=p)                   (conv.<layer>.fwd, under no_grad)
    y = F.conv2d(x, w, b, padding=p); y.backward(gy)   (conv.<layer>.step: fwd + dx, dw, db)
with the same shapes as bench/conv.c (the MNIST layer's input has no gradient, the
mid-size layer's has), and prints `RESULT torch.<env>.conv.<layer>.<fwd|step>` lines
(median and fastest ms per step); bench/compare.py puts them beside zen's.
"""
import torch
import torch.nn.functional as F

import torchbench

LAYERS = [
    # name, N, C, H, W, OC, K, pad, input_grad
    ("mnist", 64, 1, 28, 28, 32, 3, 0, False),
    ("mid", 32, 64, 28, 28, 64, 3, 1, True),
]


def main():
    args = torchbench.parse_args(__doc__)
    tm = torchbench.Timer(args)
    torchbench.header("conv2d", args)
    for name, n, c, h, w_, oc, k, pad, input_grad in LAYERS:
        for threads in args.threads:
            torch.set_num_threads(threads)
            g = torch.Generator().manual_seed(1)
            x = (torch.rand(n, c, h, w_, generator=g) * 2 - 1).requires_grad_(input_grad)
            w = ((torch.rand(oc, c, k, k, generator=g) * 2 - 1) * 0.3).requires_grad_(True)
            b = ((torch.rand(oc, generator=g) * 2 - 1) * 0.1).requires_grad_(True)
            with torch.no_grad():
                gy = torch.rand(F.conv2d(x, w, b, padding=pad).shape, generator=g) * 2 - 1

            def fwd():
                with torch.no_grad():
                    return F.conv2d(x, w, b, padding=pad)

            def step():
                w.grad = b.grad = x.grad = None
                F.conv2d(x, w, b, padding=pad).backward(gy)

            tm.run(f"conv.{name}.fwd", threads, fwd)
            tm.run(f"conv.{name}.step", threads, step)


if __name__ == "__main__":
    main()
