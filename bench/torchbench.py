"""Shared by the PyTorch halves of the benchmarks (bench/*_torch.py).

Every measurement prints one line in the format of bench/bench.h,
    RESULT torch.<env>.<name> threads=<n> median_ms=<m> min_ms=<f> reps=<r>
with the same <name> as the zen benchmark, so bench/compare.py can pair them. <env> names
the process environment PyTorch ran in (bench/run_all.sh: "shipped" as installed, "tuned"
with malloc/OpenMP settings); it comes from --env, else $ZEN_BENCH_TORCH_ENV, else
"shipped". Threads: --threads 1 2 (default: $OMP_NUM_THREADS, else 1 and 2), applied
with torch.set_num_threads.
"""
import argparse
import os
import statistics
import sys
import time

import torch


def parse_args(doc, extra=None):
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", help="thread counts (default: OMP_NUM_THREADS, else 1 2)")
    ap.add_argument("--env", default=os.environ.get("ZEN_BENCH_TORCH_ENV", "shipped"),
                    help="name of the environment, part of every result name")
    ap.add_argument("--min-reps", type=int, default=20, help="timed runs at least (default 20)")
    ap.add_argument("--min-seconds", type=float, default=0.5, help="and at least this long (default 0.5)")
    if extra:
        extra(ap)
    a = ap.parse_args()
    if not a.threads:
        e = os.environ.get("OMP_NUM_THREADS", "")
        a.threads = [int(e)] if e.isdigit() and int(e) > 0 else [1, 2]
    return a


class Timer:
    def __init__(self, args):
        self.env = args.env
        self.min_reps = args.min_reps
        self.min_seconds = args.min_seconds

    def time(self, fn, warmup=3):
        """Median and fastest of repeated fn() calls after warm-up, in ms."""
        for _ in range(warmup):
            fn()
        ts, total = [], 0.0
        while len(ts) < 2000 and (len(ts) < self.min_reps or total < self.min_seconds):
            t0 = time.perf_counter()
            fn()
            dt = time.perf_counter() - t0
            ts.append(dt * 1e3)
            total += dt
        return statistics.median(ts), min(ts), len(ts)

    def result(self, name, threads, stats, **extra):
        med, mn, reps = stats
        kv = "".join(f" {k}={v}" for k, v in extra.items())
        print(f"RESULT torch.{self.env}.{name} threads={threads} median_ms={med:.4f} min_ms={mn:.4f} reps={reps}{kv}",
              flush=True)

    def run(self, name, threads, fn, warmup=3, **extra):
        stats = self.time(fn, warmup)
        self.result(name, threads, stats, **extra)
        return stats


def header(what, args):
    print(f"# {what}: PyTorch {torch.__version__}, env {args.env}, threads {args.threads}, "
          f"GLIBC_TUNABLES={os.environ.get('GLIBC_TUNABLES', '')} OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '')}",
          file=sys.stdout, flush=True)
