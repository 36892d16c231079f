#!/bin/sh
# The LSTM language model's training step in zen and in PyTorch, side by side:
#
#   bench/lstm_compare.sh [BUILD_DIR [ROUNDS]]      (defaults: build 3)
#
# Model (bench/lstm_lm.c, bench/lstm_lm_torch.py): Embedding(65, 128) -> LSTM(256) over 64
# steps -> Linear(256, 65) on every step -> cross-entropy; batch 32; backward; Adam step.
# For 1 and 2 threads, each in its own process: zen as built, zen with
# OMP_WAIT_POLICY=PASSIVE ("zen passive"), PyTorch as shipped and PyTorch "tuned" (glibc
# malloc keeping freed memory, OpenMP threads sleeping when idle: the best environment
# found for it, see bench/mnist_compare.sh). Each process reports the median ms of at least
# 20 steps after 3 warm-up steps; with ROUNDS > 1 everything is repeated, alternating the
# systems, and each number is the best round's (other work on the machine only adds time).
# Printed: tokens/s (B*T = 2048 tokens per step) and zen's speed-up over each PyTorch, and
# CPU ms per step. The RESULT lines are kept in $OUT (default: a temporary file, printed);
# an existing $OUT gets more rounds, and the tables cover all the rounds it holds.
set -eu
build=${1:-build}
rounds=${2:-3}
here=$(cd "$(dirname "$0")" && pwd)
zen_bin=$build/bench/bench_lstm_lm
[ -x "$zen_bin" ] || { echo "lstm_compare: $zen_bin not found (cmake --build $build)" >&2; exit 1; }
out=${OUT:-$(mktemp /tmp/lstm_compare.XXXXXX)}
touch "$out"

tuned() {
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296:glibc.malloc.hugetlb=1 \
        OMP_WAIT_POLICY=PASSIVE "$@"
}

r=1
while [ "$r" -le "$rounds" ]; do
    for t in 1 2; do
        echo "# round $r, $t thread(s) (load: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
        OMP_NUM_THREADS=$t "$zen_bin" "$t" >> "$out"
        OMP_NUM_THREADS=$t OMP_WAIT_POLICY=PASSIVE ZEN_BENCH_ENV=passive "$zen_bin" "$t" >> "$out"
        OMP_NUM_THREADS=$t /usr/bin/python3 "$here/lstm_lm_torch.py" --threads "$t" --env shipped >> "$out"
        OMP_NUM_THREADS=$t tuned /usr/bin/python3 "$here/lstm_lm_torch.py" --threads "$t" --env tuned >> "$out"
    done
    r=$((r + 1))
done
/usr/bin/python3 - "$out" <<'PY'
import sys
best = {}
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) < 4 or p[0] != "RESULT":
        continue
    f = dict(x.split("=", 1) for x in p[2:] if "=" in x)
    name = {"lstm_lm": "zen", "zen.passive.lstm_lm": "zen passive", "torch.shipped.lstm_lm": "torch shipped",
            "torch.tuned.lstm_lm": "torch tuned"}.get(p[1])
    if not name:
        continue
    k = (name, int(f["threads"]))
    ms = float(f["median_ms"])
    if k not in best or ms < best[k][0]:
        best[k] = (ms, float(f.get("cpu_ms", "nan")))
systems = ["zen", "zen passive", "torch shipped", "torch tuned"]
print("LSTM LM training step (batch 32 x 64 steps = 2048 tokens), best round's median")
print(f"{'threads':>7} " + "".join(f"{s + ' tok/s':>20}" for s in systems) + f"{'zen/shipped':>13}{'zen/tuned':>11}")
for t in (1, 2):
    row = [best.get((s, t)) for s in systems]
    tok = [2048 / (r[0] * 1e-3) if r else float("nan") for r in row]
    z = max(tok[0], tok[1])
    print(f"{t:>7} " + "".join(f"{v:>20.0f}" for v in tok) + f"{z / tok[2]:>13.2f}{z / tok[3]:>11.2f}")
print("CPU ms per step (all threads): " + "; ".join(
    f"{s} {t}T {best[(s, t)][1]:.1f}" for t in (1, 2) for s in systems if (s, t) in best))
PY
echo "# RESULT lines: $out" >&2
