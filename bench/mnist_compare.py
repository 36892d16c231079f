#!/usr/bin/python3
"""The side-by-side table of bench/mnist_compare.sh: zen and PyTorch on the reference model.

    /usr/bin/python3 bench/mnist_compare.py RESULTS_FILE...

Reads the RESULT lines (bench/bench.h protocol) of bench_mnist_train (names mnist_*) and
bench/mnist_train_torch.py (names torch.<env>.mnist_*). Throughputs are samples (images)
per second from median times; when a file holds several rounds, each number is the best
round's (interference from other processes only ever slows a run down). For every thread
count it prints zen, PyTorch as shipped and tuned, and zen / (the better PyTorch): above 1
means zen is faster. Memory: peak RSS (VmHWM) of each process, and what it holds beyond the
data set (peak RSS minus the RSS right after loading MNIST).
"""
import collections
import sys

RATES = [("mnist_train", "samples_per_s", "training, samples/s"),
         ("mnist_predict_b1000", "images_per_s", "inference batch 1000, images/s"),
         ("mnist_predict_b1", "images_per_s", "inference batch 1, images/s")]


def parse(lines):
    """{(system, name, threads): [fields of each round]} with system 'zen' or the torch env."""
    out = collections.defaultdict(list)
    for line in lines:
        parts = line.split()
        if len(parts) < 3 or parts[0] != "RESULT":
            continue
        name = parts[1]
        fields = dict(p.split("=", 1) for p in parts[2:] if "=" in p)
        system = "zen"
        if name.startswith("torch."):
            _, system, name = name.split(".", 2)
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
    print(f"{'':34} {'thr':>3} {'zen':>9} {'torch':>9} {'torch':>9} {'zen/best':>9}")
    print(f"{'':34} {'':>3} {'':>9} {'shipped':>9} {'tuned':>9} {'torch':>9}")
    for name, key, label in RATES:
        for t in threads:
            z = best(res.get(("zen", name, t), []), key)
            ts = best(res.get(("shipped", name, t), []), key)
            tt = best(res.get(("tuned", name, t), []), key)
            tb = max([v for v in (ts, tt) if v is not None], default=None)
            ratio = f"{z / tb:>8.2f}x" if z and tb else f"{'-':>9}"
            print(f"{label:34} {t:>3} {fmt(z)} {fmt(ts)} {fmt(tt)} {ratio}")
    print()
    print(f"{'peak RSS, MB (beyond the data)':34} {'thr':>3} {'zen':>13} {'torch shipped':>15} {'torch tuned':>15}")
    for t in threads:
        cells = []
        for system in ("zen", "shipped", "tuned"):
            rows = res.get((system, "mnist_memory", t), [])
            peak, data = lowest(rows, "peak_rss_mb"), lowest(rows, "data_rss_mb")
            w = 13 if system == "zen" else 15
            cells.append(f"{peak:.0f} ({peak - data:.0f})".rjust(w) if peak is not None else "-".rjust(w))
        print(f"{'':34} {t:>3} " + " ".join(cells))


if __name__ == "__main__":
    main()
