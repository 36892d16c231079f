#!/usr/bin/python3
"""The shapes of bench/matmul.c through torch.matmul and F.linear.

    /usr/bin/python3 bench/matmul_torch.py [--threads 1 2] [--env shipped]

matmul.[b<batch>.]<M>x<N>x<K>.<TT>: torch.matmul(op(a), op(b)) with a stored [K, M] when
its flag is T and b stored [N, K] when its flag is T (transposed views, as zen reads
them); linear.<M>x<N>x<K>: F.linear(x [M, K], w [N, K], b [N]). Under no_grad; prints
RESULT torch.<env>.* lines for bench/compare.py.
"""
import torch
import torch.nn.functional as F

import torchbench

# (batch, M, N, K, trans_a, trans_b), as bench/matmul.c's main()
MATMULS = [(1, n, n, n, False, False) for n in (256, 512, 1024, 2048)] + [
    (1, 1024, 1024, 1024, True, False),
    (1, 1024, 1024, 1024, False, True),
    (1, 64, 128, 784, False, False),
    (1, 64, 128, 784, False, True),
    (1, 64, 10, 128, False, True),
    (1, 64, 784, 128, False, False),
    (1, 128, 784, 64, True, False),
    (1, 10, 128, 64, True, False),
    (64, 64, 64, 64, False, False),
    (8, 128, 128, 128, False, False),
    (8, 192, 192, 192, False, False),
    (8, 256, 256, 256, False, False),
]
LINEARS = [(64, 128, 784), (64, 10, 128), (512, 1024, 1024)]


def main():
    args = torchbench.parse_args(__doc__)
    tm = torchbench.Timer(args)
    torchbench.header("matmul", args)
    g = torch.Generator().manual_seed(1)
    for threads in args.threads:
        torch.set_num_threads(threads)
        with torch.no_grad():
            for batch, m, n, k, ta, tb in MATMULS:
                lead = (batch,) if batch > 1 else ()
                a = torch.rand(*lead, *((k, m) if ta else (m, k)), generator=g) * 2 - 1
                b = torch.rand(*lead, *((n, k) if tb else (k, n)), generator=g) * 2 - 1
                a = a.transpose(-1, -2) if ta else a
                b = b.transpose(-1, -2) if tb else b
                st = tm.time(lambda: torch.matmul(a, b))
                name = "matmul." + (f"b{batch}." if batch > 1 else "") + f"{m}x{n}x{k}." + \
                    ("T" if ta else "N") + ("T" if tb else "N")
                tm.result(name, threads, st, gflops=f"{2 * batch * m * n * k / st[0] * 1e-6:.1f}")
            for m, n, k in LINEARS:
                x = torch.rand(m, k, generator=g) * 2 - 1
                w = torch.rand(n, k, generator=g) * 2 - 1
                b = torch.rand(n, generator=g) * 2 - 1
                st = tm.time(lambda: F.linear(x, w, b))
                tm.result(f"linear.{m}x{n}x{k}", threads, st, gflops=f"{2 * m * n * k / st[0] * 1e-6:.1f}")


if __name__ == "__main__":
    main()
