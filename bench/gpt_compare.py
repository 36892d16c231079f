#!/usr/bin/python3
"""The side-by-side table of bench/gpt_compare.sh: GPT training steps in zen and PyTorch.

    /usr/bin/python3 bench/gpt_compare.py RESULTS_FILE...

Reads the RESULT lines of bench_gpt_train (gpt_<config>, zen.<env>.gpt_<config>) and
bench/gpt_train_torch.py (torch.<env>.gpt_<config>). For every config and thread count it
prints each system's tokens/s from the median over rounds of the per-process median step
time (and the best round in brackets), the parameter counts (which must agree: the same
model), the loss of the first and last step, and the ratios zen / PyTorch tuned and zen /
the better PyTorch (above 1: zen is faster), zen being the better of its two environments.
The '# load' lines give the load average before each set.
"""
import collections
import statistics
import sys


def main():
    res = collections.defaultdict(list)
    loads = collections.defaultdict(list)
    for path in sys.argv[1:] or ["/dev/stdin"]:
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) >= 6 and p[:2] == ["#", "load"]:
                    loads[(p[2], int(p[3].split("=")[1]))].append(float(p[5]))
                if len(p) < 3 or p[0] != "RESULT":
                    continue
                name = p[1]
                fields = {k: float(v) for k, v in (x.split("=", 1) for x in p[2:] if "=" in x)}
                system = "zen"
                if name.startswith(("torch.", "zen.")):
                    lib, env, name = name.split(".", 2)
                    system = f"{lib}.{env}"
                res[(name, int(fields["threads"]), system)].append(fields)
    ok = True
    for name, threads in sorted({(k[0], k[1]) for k in res}):
        tokens = lambda rows: [r["tokens_per_s"] for r in rows]
        print(f"{name}, {threads} thread(s)" +
              (f", load average (1 min) {min(loads[(name, threads)]):.1f}-{max(loads[(name, threads)]):.1f}"
               if loads[(name, threads)] else ""))
        med = {}
        params = set()
        for system in ("zen.passive", "zen", "torch.shipped", "torch.tuned"):
            rows = res.get((name, threads, system))
            if not rows:
                continue
            med[system] = statistics.median(tokens(rows))
            params.add(int(rows[0]["params"]))
            print(f"  {system:<14} {med[system]:>9,.0f} tokens/s  (best {max(tokens(rows)):>9,.0f}, {len(rows)} rounds)"
                  f"  params {int(rows[0]['params']):,}  loss {rows[-1]['loss_first']:.3f} -> {rows[-1]['loss_last']:.3f}")
        if len(params) > 1:
            print(f"  PARAMETER COUNTS DIFFER: {sorted(params)}")
            ok = False
        zen = max((v for k, v in med.items() if k.startswith("zen")), default=None)
        torch = max((v for k, v in med.items() if k.startswith("torch")), default=None)
        if zen and med.get("torch.tuned"):
            print(f"  zen / torch tuned: {zen / med['torch.tuned']:.2f}x   zen / best torch: {zen / torch:.2f}x")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
