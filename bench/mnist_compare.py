#!/usr/bin/python3
"""The side-by-side table of bench/mnist_compare.sh: zen and PyTorch on the reference model.

    /usr/bin/python3 bench/mnist_compare.py RESULTS_FILE...

Reads the RESULT lines (bench/bench.h protocol) of bench_mnist_train (names mnist_*) and
bench/mnist_train_torch.py (names torch.<env>.mnist_*). Throughputs are samples (images)
per second from median times; when a file holds several rounds, each number is the best
round's (interference from other processes only ever slows a run down). For every thread
count it prints zen (as built, and in any environment the runner named with
$ZEN_BENCH_ENV), PyTorch as shipped and tuned, and the ratios zen / (the better PyTorch):
above 1 means zen is faster. Memory: peak RSS (VmHWM) of each process, and what it holds beyond the
data set (peak RSS minus the RSS right after loading MNIST).
"""
import collections
import sys

RATES = [("mnist_train", "samples_per_s", "training, samples/s"),
         ("mnist_predict_b1000", "images_per_s", "inference batch 1000, images/s"),
         ("mnist_predict_b1", "images_per_s", "inference batch 1, images/s")]


def parse(lines):
    """{(system, name, threads): [fields of each round]}; system: zen (as built), zen.<env>,
    torch.shipped or torch.tuned."""
    out = collections.defaultdict(list)
    for line in lines:
        parts = line.split()
        if len(parts) < 3 or parts[0] != "RESULT":
            continue
        name = parts[1]
        fields = dict(p.split("=", 1) for p in parts[2:] if "=" in p)
        system = "zen"
        if name.startswith("torch.") or name.startswith("zen."):
            lib, env, name = name.split(".", 2)
            system = f"{lib}.{env}"
        out[(system, name, int(fields["threads"]))].append({k: float(v) for k, v in fields.items()})
    return out


def best(rows, key):
    vals = [r[key] for r in rows if key in r]
    return max(vals) if vals else None


def lowest(rows, key):
    vals = [r[key] for r in rows if key in r]
    return min(vals) if vals else None


def fmt(v, width=9):
    return f"{v:>{width},.0f}" if v is not None else f"{'-':>{width}}"


def main():
    lines = []
    for path in sys.argv[1:] or ["/dev/stdin"]:
        with open(path) as f:
            lines += f.readlines()
    res = parse(lines)
    threads = sorted({k[2] for k in res})
    rounds = max((len(v) for v in res.values()), default=0)
    print(f"# reference model (Conv2D 32 3x3 relu, MaxPool 2x2, Flatten, Dense 128 relu, Dense 10 softmax; "
          f"Adam, batch 64), best of {rounds} round(s)")
    zen_envs = sorted({k[0] for k in res if k[0].startswith("zen.")})
    zens = ["zen"] + zen_envs
    heads = zens + ["torch.shipped", "torch.tuned"]
    print(f"{'':34} {'thr':>3} " + " ".join(f"{h.replace('torch.', 'torch ').replace('zen.', 'zen '):>13}" for h in heads)
          + f" {'zen/torch':>10} {'best/best':>10}")
    for name, key, label in RATES:
        for t in threads:
            v = {h: best(res.get((h, name, t), []), key) for h in heads}
            tb = max([v[h] for h in ("torch.shipped", "torch.tuned") if v[h] is not None], default=None)
            zb = max([v[h] for h in zens if v[h] is not None], default=None)
            r1 = f"{v['zen'] / tb:>9.2f}x" if v["zen"] and tb else f"{'-':>10}"
            r2 = f"{zb / tb:>9.2f}x" if zb and tb else f"{'-':>10}"
            print(f"{label:34} {t:>3} " + " ".join(fmt(v[h], 13) for h in heads) + f" {r1} {r2}")
    print("zen/torch: zen as built against the better PyTorch; best/best: the better zen environment against it")
    print()
    print(f"{'peak RSS, MB (beyond the data set)':34} {'thr':>3} " + " ".join(f"{h.replace('torch.', 'torch ').replace('zen.', 'zen '):>13}" for h in heads))
    for t in threads:
        cells = []
        for h in heads:
            rows = res.get((h, "mnist_memory", t), [])
            peak, data = lowest(rows, "peak_rss_mb"), lowest(rows, "data_rss_mb")
            cells.append((f"{peak:.0f} ({peak - data:.0f})" if peak is not None else "-").rjust(13))
        print(f"{'':34} {t:>3} " + " ".join(cells))


if __name__ == "__main__":
    main()
