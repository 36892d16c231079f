#!/usr/bin/python3
"""Pairs zen and PyTorch benchmark results and prints the ratios.

Reads lines `RESULT <name> threads=<n> median_ms=<m> [k=v ...]` from the files given
(or stdin). Lines whose name starts with `torch.` are PyTorch's; the rest are zen's.
For every (name, threads) measured by both, prints both times and torch/zen: above 1
means zen is faster. Where PyTorch ran in several environments (torch.<env>.<name>),
the best (fastest) one is the comparison.
"""
import collections
import sys


def parse(lines):
    zen, torch = {}, collections.defaultdict(dict)
    for line in lines:
        parts = line.split()
        if len(parts) < 4 or parts[0] != "RESULT":
            continue
        name = parts[1]
        fields = dict(p.split("=", 1) for p in parts[2:] if "=" in p)
        key = int(fields["threads"])
        ms = float(fields["median_ms"])
        if name.startswith("torch."):
            env, _, base = name[len("torch."):].partition(".")
            if not base:
                env, base = "shipped", env
            torch[(base, key)][env] = ms
        else:
            zen[(name, key)] = ms
    return zen, torch


def main():
    lines = []
    if len(sys.argv) > 1:
        for path in sys.argv[1:]:
            with open(path) as f:
                lines += f.readlines()
    else:
        lines = sys.stdin.readlines()
    zen, torch = parse(lines)
    print(f"{'benchmark':34} {'thr':>3} {'zen ms':>10} {'torch ms':>10} {'torch env':>10} {'torch/zen':>9}")
    for (name, thr) in sorted(zen):
        z = zen[(name, thr)]
        envs = torch.get((name, thr), {})
        if envs:
            env, t = min(envs.items(), key=lambda kv: kv[1])
            print(f"{name:34} {thr:>3} {z:>10.3f} {t:>10.3f} {env:>10} {t / z:>9.2f}")
        else:
            print(f"{name:34} {thr:>3} {z:>10.3f} {'-':>10} {'':>10} {'':>9}")


if __name__ == "__main__":
    main()
