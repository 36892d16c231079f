#!/bin/sh
# The reference model in zen and in PyTorch, side by side:
#
#   bench/mnist_compare.sh [BUILD_DIR [EPOCHS [ROUNDS]]]      (defaults: build 3 1)
#
# For 1 and 2 threads: zen (BUILD_DIR/bench/bench_mnist_train) as built and with
# OMP_WAIT_POLICY=PASSIVE ("zen passive": on a machine shared with other work, GNU OpenMP's
# default of spinning while waiting at a barrier makes a two-thread team crawl whenever
# one of its threads is descheduled), PyTorch as shipped, and PyTorch in the best
# environment found for it on the reference machine ("tuned": glibc malloc keeps freed
# memory instead of returning it, and OpenMP threads sleep rather than spin when idle). Each run is its own process (so each peak RSS is its own) and times
# EPOCHS epochs of the 60000 MNIST training images (median), then inference over the
# 10000 test images at batch 1000 and batch 1. With ROUNDS > 1 the whole set is repeated,
# alternating the systems, and each number is the best round's: on a machine shared with
# other work that is the fairest estimate of what each system can do.
#
# MNIST: $ZEN_MNIST, else ~/.cache/zen/datasets/mnist (scripts/fetch_data.sh mnist).
# PyTorch: /usr/bin/python3 with torch (Debian's python3-torch).
# The RESULT lines of every run are kept in $OUT (default: a temporary file, printed).
set -eu
build=${1:-build}
epochs=${2:-3}
rounds=${3:-1}
here=$(cd "$(dirname "$0")" && pwd)
zen_bin=$build/bench/bench_mnist_train
[ -x "$zen_bin" ] || { echo "mnist_compare: $zen_bin not found (cmake --build $build)" >&2; exit 1; }
out=${OUT:-$(mktemp /tmp/mnist_compare.XXXXXX)}
: > "$out"

tuned() {
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE \
        GLIBC_TUNABLES=glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296:glibc.malloc.hugetlb=1 \
        OMP_WAIT_POLICY=PASSIVE "$@"
}

r=1
while [ "$r" -le "$rounds" ]; do
    for t in 1 2; do
        echo "# round $r, $t thread(s): zen, zen passive, torch shipped, torch tuned (load: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
        OMP_NUM_THREADS=$t "$zen_bin" "$t" "$epochs" >> "$out"
        OMP_NUM_THREADS=$t OMP_WAIT_POLICY=PASSIVE ZEN_BENCH_ENV=passive "$zen_bin" "$t" "$epochs" >> "$out"
        OMP_NUM_THREADS=$t /usr/bin/python3 "$here/mnist_train_torch.py" --threads "$t" --epochs "$epochs" \
            --env shipped >> "$out"
        OMP_NUM_THREADS=$t tuned /usr/bin/python3 "$here/mnist_train_torch.py" --threads "$t" --epochs "$epochs" \
            --env tuned >> "$out"
    done
    r=$((r + 1))
done
/usr/bin/python3 "$here/mnist_compare.py" "$out"
echo "# RESULT lines: $out" >&2
