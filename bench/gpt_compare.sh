#!/bin/sh
# GPT training steps in zen and in PyTorch, side by side (issue 5 benchmarks a and b):
#
#   bench/gpt_compare.sh [BUILD_DIR [ROUNDS [CONFIGS]]]      (defaults: build 3 "a b")
#
# For each config (a: char-GPT 6x384, context 256, batch 16; b: GPT 4x128, context 64,
# batch 32; see bench/gpt_train.c) and 1 and 2 threads: zen (BUILD_DIR/bench/bench_gpt_train)
# with OMP_WAIT_POLICY=PASSIVE ("zen passive", as in bench/mnist_compare.sh: on a shared
# machine spinning OpenMP barriers crawl when a thread is descheduled), zen as built, PyTorch
# as shipped, and PyTorch "tuned" (glibc malloc keeps freed memory, OpenMP threads sleep when
# idle). The four run interleaved, each in its own process, ROUNDS times; each process
# prints the median of its timed steps, and bench/gpt_compare.py prints, per system, the
# median over the rounds (and the best round), tokens/s, and zen / PyTorch ratios.
# PyTorch: /usr/bin/python3 with torch (Debian's python3-torch). The machine load
# (/proc/loadavg) is printed before every set. RESULT lines are kept in $OUT (default: a
# temporary file, printed). $STEPS, when set, is the number of timed steps of every process
# (default: 10 for a, 40 for b).
set -eu
build=${1:-build}
rounds=${2:-3}
configs=${3:-a b}
here=$(cd "$(dirname "$0")" && pwd)
zen_bin=$build/bench/bench_gpt_train
[ -x "$zen_bin" ] || { echo "gpt_compare: $zen_bin not found (cmake --build $build --target bench_gpt_train)" >&2; exit 1; }
out=${OUT:-$(mktemp /tmp/gpt_compare.XXXXXX)}
: > "$out"

tuned() {
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296:glibc.malloc.hugetlb=1 \
        OMP_WAIT_POLICY=PASSIVE "$@"
}

r=1
while [ "$r" -le "$rounds" ]; do
    for c in $configs; do
        for t in 1 2; do
            load=$(cut -d' ' -f1-3 /proc/loadavg)
            echo "# round $r, gpt_$c, $t thread(s): zen passive, zen, torch shipped, torch tuned (load: $load)" >&2
            echo "# load gpt_$c threads=$t round=$r $load" >> "$out"
            OMP_NUM_THREADS=$t OMP_WAIT_POLICY=PASSIVE ZEN_BENCH_ENV=passive "$zen_bin" "$c" "$t" ${STEPS:-} >> "$out"
            OMP_NUM_THREADS=$t "$zen_bin" "$c" "$t" ${STEPS:-} >> "$out"
            OMP_NUM_THREADS=$t /usr/bin/python3 "$here/gpt_train_torch.py" "$c" --threads "$t" --env shipped \
                ${STEPS:+--steps $STEPS} >> "$out"
            OMP_NUM_THREADS=$t tuned /usr/bin/python3 "$here/gpt_train_torch.py" "$c" --threads "$t" --env tuned \
                ${STEPS:+--steps $STEPS} >> "$out"
        done
    done
    r=$((r + 1))
done
/usr/bin/python3 "$here/gpt_compare.py" "$out"
echo "# RESULT lines: $out" >&2
