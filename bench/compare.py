#!/usr/bin/python3
"""Pairs zen and PyTorch benchmark results and prints the ratios.

    bench/compare.py [--markdown] [FILE ...]       (default: stdin)

Reads lines `RESULT <name> threads=<n> median_ms=<m> [k=v ...]` from the files given
(or stdin). Lines whose name starts with `torch.` are PyTorch's; the rest are zen's.
PyTorch results are named torch.<env>.<name> (env: the process environment it ran in,
e.g. shipped or tuned; a bare torch.<name> counts as shipped).

When the same (name, threads) appears several times (bench/run_all.sh runs every
benchmark in several rounds), the lowest median is kept: interference from other work
on the machine only ever adds time.

Tables:
  1. zen vs PyTorch: for every (name, threads) zen measured, zen's ms, PyTorch's ms in each
     environment, and torch/zen with the best (fastest) environment: above 1 means zen is
     faster.
  2. zen vs raw BLAS: results carrying raw_ms= (bench/matmul.c) with zen's and the raw
     call's GFLOP/s and zen/raw throughput (1.00 = no overhead).
"""
import argparse
import collections
import sys


def parse(lines):
    rows = []
    for line in lines:
        parts = line.split()
        if len(parts) < 4 or parts[0] != "RESULT":
            continue
        fields = dict(p.split("=", 1) for p in parts[2:] if "=" in p)
        rows.append((parts[1], int(fields["threads"]), float(fields["median_ms"]), fields))
    zen, extra, rounds = {}, {}, collections.Counter()
    for name, thr, ms, fields in rows:
        if name.startswith("torch."):
            continue
        k = (name, thr)
        rounds[k] += 1
        if k not in zen or ms < zen[k]:
            zen[k], extra[k] = ms, fields
    names = {n for n, _ in zen}
    torch = collections.defaultdict(dict)
    for name, thr, ms, fields in rows:
        if not name.startswith("torch."):
            continue
        rest = name[len("torch."):]
        env, _, base = rest.partition(".")
        if not (base and (env in ENVS_KNOWN or base in names)):  # a bare torch.<name>
            env, base = "shipped", rest
        d = torch[(base, thr)]
        d[env] = min(ms, d.get(env, ms))
    return zen, torch, extra, rounds


# The environments of bench/run_all.sh. Any other word before the first dot of
# torch.<env>.<name> also counts as an environment when zen measured <name>.
ENVS_KNOWN = {"shipped", "tuned"}


def sort_key(item):
    name, thr = item
    return (name.split(".")[0], name, thr)


class Table:
    def __init__(self, markdown, cols, aligns):
        self.md, self.cols, self.aligns, self.rows = markdown, cols, aligns, []

    def add(self, *cells):
        self.rows.append([str(c) for c in cells])

    def print(self):
        if self.md:
            print("| " + " | ".join(self.cols) + " |")
            print("|" + "|".join("---:" if a == ">" else ":---" for a in self.aligns) + "|")
            for r in self.rows:
                print("| " + " | ".join(r) + " |")
            return
        w = [max(len(c), *(len(r[i]) for r in self.rows)) if self.rows else len(c) for i, c in enumerate(self.cols)]
        fmt = "  ".join(f"{{:{a}{n}}}" for a, n in zip(self.aligns, w))
        print(fmt.format(*self.cols))
        for r in self.rows:
            print(fmt.format(*r))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--markdown", action="store_true", help="print Markdown tables")
    ap.add_argument("files", nargs="*")
    a = ap.parse_args()
    lines = []
    if a.files:
        for path in a.files:
            with open(path) as f:
                lines += f.readlines()
    else:
        lines = sys.stdin.readlines()
    zen, torch, extra, rounds = parse(lines)
    envs = sorted({e for d in torch.values() for e in d}, key=lambda e: (e != "shipped", e))

    paired = [k for k in zen if k in torch]
    if paired:
        t = Table(a.markdown, ["benchmark", "thr", "zen ms"] + [f"torch {e} ms" for e in envs] + ["torch/zen"],
                  ["<", ">", ">"] + [">"] * len(envs) + [">"])
        for k in sorted(paired, key=sort_key):
            z, d = zen[k], torch[k]
            best = min(d.values())
            t.add(k[0], k[1], f"{z:.3f}", *(f"{d[e]:.3f}" if e in d else "-" for e in envs), f"{best / z:.2f}")
        print("zen vs PyTorch: median ms per call (best of rounds); torch/zen with PyTorch's faster "
              "environment, > 1: zen is faster")
        print()
        t.print()
        print()

    raw = [k for k in zen if "raw_ms" in extra[k]]
    if raw:
        t = Table(a.markdown, ["matmul", "thr", "zen ms", "raw ms", "zen GFLOP/s", "raw GFLOP/s", "zen/raw"],
                  ["<", ">", ">", ">", ">", ">", ">"])
        for k in sorted(raw, key=sort_key):
            f = extra[k]
            t.add(k[0], k[1], f"{zen[k]:.4f}", f"{float(f['raw_ms']):.4f}", f.get("gflops", "-"),
                  f.get("raw_gflops", "-"), f"{float(f['raw_ms']) / zen[k]:.3f}")
        print("zen_matmul vs the raw BLAS call on the same buffers (alternating runs); zen/raw = "
              "throughput ratio, 1.00 = no overhead")
        print()
        t.print()
        print()

    alone = [k for k in zen if k not in torch and k not in raw]
    if alone:
        t = Table(a.markdown, ["zen only", "thr", "zen ms"], ["<", ">", ">"])
        for k in sorted(alone, key=sort_key):
            t.add(k[0], k[1], f"{zen[k]:.3f}")
        t.print()
    n = max(rounds.values()) if rounds else 0
    print(f"\n({len(zen)} zen results, up to {n} round(s) each; {len(torch)} PyTorch results)")


if __name__ == "__main__":
    main()
