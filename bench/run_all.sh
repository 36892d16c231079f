#!/bin/bash
# bench/run_all.sh — every zen benchmark beside its PyTorch twin, at 1 and 2 threads.
#
#   bench/run_all.sh [--rounds N] [--threads "1 2"] [--out DIR] [--no-wait]
#   ZEN_BENCHES="softmax_ln attention" bench/run_all.sh ...     (only those benchmarks)
#
# Builds nothing: expects the release tree from `make build` (build/bench/bench_*; set
# BUILD=dir for another). For each round, thread count and benchmark it runs, each in its
# own process with OMP_NUM_THREADS set to the thread count:
#   zen        build/bench/bench_<x> <threads>
#   torch      bench/<x>_torch.py twice: "shipped" (the environment as it is) and "tuned"
#              (GLIBC_TUNABLES keeping freed memory in the heap and allowing huge pages,
#              OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, OMP_WAIT_POLICY=PASSIVE),
#              results named torch.shipped.* and torch.tuned.*
# An existing DIR gets more rounds, numbered after the ones it holds (the tables then cover
# all of them). Before each process it waits (up to a minute; --no-wait: not at all) for the machine
# to be idle, since other work on it only adds time, and logs the load it saw. Raw output
# goes to DIR (default bench/results/<date-time>/): one log per process, machine.r<n>.txt, and
# the bench/compare.py tables (table.txt, table.md), which keep each result's best median
# over the rounds. `make bench` runs this.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=3
THREADS="1 2"
OUT=""
WAIT=1
while [ $# -gt 0 ]; do
    case "$1" in
    --rounds) ROUNDS=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --no-wait) WAIT=0; shift ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "run_all.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done

BUILD=${BUILD:-build}
PY=/usr/bin/python3
BENCHES=${ZEN_BENCHES:-"matmul conv elementwise softmax_ln attention"} # ZEN_BENCHES: a subset
for b in $BENCHES; do
    if [ ! -x "$BUILD/bench/bench_$b" ]; then
        echo "run_all.sh: $BUILD/bench/bench_$b not found; run 'make build' first" >&2
        exit 1
    fi
done
OUT=${OUT:-bench/results/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"
# rounds already in OUT (logs r<round>.t<threads>.<bench>.*.log)
DONE=$(find "$OUT" -maxdepth 1 -name 'r*.log' -printf '%f\n' | sed -n 's/^r\([0-9]*\)\..*/\1/p' | sort -n | tail -1)
DONE=${DONE:-0}

TUNED_TUNABLES="glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296:glibc.malloc.hugetlb=1"

# Busy CPU jiffies of the whole machine (all but idle and iowait).
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }

# Waits until the machine used under 10% of one core over a second (at most 60 s).
wait_idle() {
    [ "$WAIT" = 1 ] || return 0
    local hz b0 b1 i
    hz=$(getconf CLK_TCK)
    for i in $(seq 60); do
        b0=$(busy); sleep 1; b1=$(busy)
        if [ $((b1 - b0)) -le $((hz / 10)) ]; then return 0; fi
    done
    echo "  (machine still busy after 60 s; measuring anyway)" >&2
}

{
    echo "date: $(date -Is)"
    echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (modified)')"
    echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(lscpu | sed -n 's/^L2 cache: *//p') L2, $(lscpu | sed -n 's/^L3 cache: *//p') L3"
    echo "kernel: $(uname -r)"
    echo "compiler: $(cc --version | head -1)"
    echo "packages:"
    dpkg-query -W -f='  ${Package} ${Version}\n' libopenblas0-openmp libdnnl2 python3-torch libgomp1 libc6 2>/dev/null || true
    echo "zen BLAS: $(sed -n 's/^ZEN_BLAS:STRING=//p' "$BUILD/CMakeCache.txt" 2>/dev/null)"
    echo "rounds: $((DONE + 1)) to $((DONE + ROUNDS)), threads: $THREADS"
} > "$OUT/machine.r$((DONE + 1)).txt"
cat "$OUT/machine.r$((DONE + 1)).txt"

# run <log> <command...>: one measured process, its output saved (with the load seen
# before it and the CPU time other processes used while it ran) and its results shown.
# When other processes used more than 10% of a core meanwhile, it runs again (at most 3
# tries, each log kept: <log>.try<n>); compare.py keeps the best median of all of them.
run() {
    local log=$1 try f b0 b1 wall user sys foreign
    shift
    for try in 1 2 3; do
        f=$log
        [ "$try" = 1 ] || f=${log%.log}.try$try.log
        wait_idle
        b0=$(busy)
        {
            echo "# $(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg): $*"
            if [ -x /usr/bin/time ]; then
                /usr/bin/time -f "%e %U %S" -o "$OUT/.time" "$@"
            else # no GNU time: no accounting (0 s wall, all cpu ours)
                "$@" && echo "0 1e9 0" > "$OUT/.time"
            fi
        } > "$f" 2>&1 || { echo "run_all.sh: failed: $* (see $f)" >&2; exit 1; }
        b1=$(busy)
        read -r wall user sys < "$OUT/.time"
        foreign=$(awk -v b="$((b1 - b0))" -v hz="$(getconf CLK_TCK)" -v u="$user" -v s="$sys" \
            'BEGIN { f = b / hz - u - s; printf "%.2f", f < 0 ? 0 : f }')
        echo "# wall ${wall} s, cpu ${user} + ${sys} s, other processes ${foreign} s cpu" >> "$f"
        grep -h '^RESULT' "$f" | sed 's/^/  /' || true
        if awk -v f="$foreign" -v w="$wall" 'BEGIN { exit !(f <= 0.1 * w + 0.05) }'; then break; fi
        echo "  (other processes used ${foreign} s of cpu in ${wall} s: again)"
    done
    rm -f "$OUT/.time"
}

for r in $(seq $((DONE + 1)) $((DONE + ROUNDS))); do
    for t in $THREADS; do
        for b in $BENCHES; do
            echo "== round $r/$((DONE + ROUNDS)), $t thread(s), $b"
            case $b in
            elementwise) zen_args="1048576 $t" ;;
            *) zen_args="$t" ;;
            esac
            run "$OUT/r$r.t$t.$b.zen.log" env OMP_NUM_THREADS="$t" "$BUILD/bench/bench_$b" $zen_args
            run "$OUT/r$r.t$t.$b.torch-shipped.log" \
                env -u GLIBC_TUNABLES -u OMP_WAIT_POLICY OMP_NUM_THREADS="$t" \
                "$PY" "bench/${b}_torch.py" --env shipped --threads "$t"
            run "$OUT/r$r.t$t.$b.torch-tuned.log" \
                env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE GLIBC_TUNABLES="$TUNED_TUNABLES" \
                OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS="$t" \
                "$PY" "bench/${b}_torch.py" --env tuned --threads "$t"
        done
    done
done

"$PY" bench/compare.py "$OUT"/*.log > "$OUT/table.txt"
"$PY" bench/compare.py --markdown "$OUT"/*.log > "$OUT/table.md"
echo
echo "results in $OUT"
echo
cat "$OUT/table.txt"
