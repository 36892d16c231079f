#!/usr/bin/python3
"""The zen-vs-PyTorch part of bench/elementwise.c, in PyTorch.

    /usr/bin/python3 bench/elementwise_torch.py [--n 1048576] [--threads 1 2] [--env shipped]

On n floats uniform in [-8, 8] (torch.set_num_threads for each thread count):
    unary.<op>.fwd    y = f(x)                      (under no_grad)
    unary.<op>.step   y = f(x); y.backward(g)       (g all ones, as bench/elementwise.c)
    unary.copy.fwd    y = x * 1
for op in exp, tanh, sigmoid, gelu (erf), gelu_tanh, silu. Prints RESULT torch.<env>.* lines.
"""
import torch
import torch.nn.functional as F

import torchbench

OPS = {
    "exp": torch.exp,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "silu": F.silu,
}


def main():
    args = torchbench.parse_args(__doc__, lambda ap: ap.add_argument("--n", type=int, default=1 << 20))
    tm = torchbench.Timer(args)
    torchbench.header(f"unary ops on {args.n} floats", args)
    g = torch.Generator().manual_seed(1)
    x0 = torch.rand(args.n, generator=g) * 16 - 8
    gy = torch.ones(args.n)
    for threads in args.threads:
        torch.set_num_threads(threads)
        with torch.no_grad():
            tm.run("unary.copy.fwd", threads, lambda: x0 * 1.0)
        for name, f in OPS.items():
            x = x0.clone().requires_grad_(True)

            def fwd():
                with torch.no_grad():
                    return f(x)

            def step():
                x.grad = None
                f(x).backward(gy)

            tm.run(f"unary.{name}.fwd", threads, fwd)
            tm.run(f"unary.{name}.step", threads, step)


if __name__ == "__main__":
    main()
