#!/bin/sh
# Load test of `zen serve` with wrk on loopback: one POST /v1/models/<name>:predict of one
# 28x28x1 sample per request, at several concurrency levels, with dynamic batching and
# with --no-batching. Prints requests/s, p50/p90/p99 latency, the mean batch the model ran
# (from /metrics), errors (non-2xx and socket errors: must be zero) and the server's RSS
# before and after each mode.
#
#   bench/serve_load.sh [BUILD_DIR]        (default build; needs wrk: scripts/setup.sh --full)
#
# Environment: DURATION (wrk -d, default 10s), CONNS (default "1 8 32 64"), WRK_THREADS
# (default 2), MODEL (a .zen file; default: examples/mnist_cnn.json's model with untrained
# weights — the reference MNIST CNN, as fast to serve as a trained one), SERVE_FLAGS
# (added to both modes, e.g. "--threads 1"). Exits 1 if any request failed.
set -eu
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
ZEN=$BUILD/zen
DURATION=${DURATION:-10s}
CONNS=${CONNS:-"1 8 32 64"}
WRK_THREADS=${WRK_THREADS:-2}
command -v wrk >/dev/null || { echo "wrk is missing (scripts/setup.sh --full)"; exit 1; }
[ -x "$ZEN" ] || { echo "no $ZEN: build first (cmake --build $BUILD)"; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/zen_serve_load_XXXXXX")
SERVER=
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

if [ -z "${MODEL:-}" ]; then
    "$BUILD/tests/serve_model" "$TMP" "$ROOT/examples/mnist_cnn.json"
    MODEL=$TMP/mnist_cnn.zen
fi
NAME=$(basename "$MODEL" .zen)
# one sample: a soft blob in the middle of a 28x28x1 image
python3 -c '
import json, math
img = [[[round(max(0.0, 1 - math.hypot(r - 14, c - 14) / 9), 4)] for c in range(28)] for r in range(28)]
print(json.dumps({"instances": [img]}))' >"$TMP/body.json"
export ZEN_BODY="$TMP/body.json"

rss() { awk '/VmRSS/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$1/status"; }
metric() { curl -s "$URL/metrics" | awk -v k="$1" 'index($0, k) == 1 { print $NF }'; }

echo "zen serve load test: $MODEL, wrk -t$WRK_THREADS -d$DURATION, $(nproc) cores, load average $(cut -d" " -f1-3 /proc/loadavg)"
echo "command: DURATION=$DURATION CONNS=\"$CONNS\" bench/serve_load.sh $BUILD"
FAILED=0
for MODE in batching no-batching; do
    FLAGS="--port 0 ${SERVE_FLAGS:-}"
    [ $MODE = no-batching ] && FLAGS="$FLAGS --no-batching"
    # shellcheck disable=SC2086
    "$ZEN" serve "$MODEL" $FLAGS >"$TMP/server.log" 2>&1 &
    SERVER=$!
    i=0
    until grep -q "listening on" "$TMP/server.log"; do
        i=$((i + 1))
        [ $i -gt 300 ] && { cat "$TMP/server.log"; exit 1; }
        sleep 0.1
    done
    URL=$(sed -n 's|.*listening on \(http://[0-9.]*:[0-9]*\).*|\1|p' "$TMP/server.log")
    curl -s -o /dev/null -H 'Content-Type: application/json' --data-binary @"$ZEN_BODY" "$URL/v1/models/$NAME:predict"
    echo
    echo "### $MODE ($(sed -n 's/.*(\(.*\))$/\1/p' "$TMP/server.log")), server RSS at start $(rss $SERVER)"
    echo
    echo "| connections | requests/s | p50 ms | p90 ms | p99 ms | mean batch | errors |"
    echo "|---:|---:|---:|---:|---:|---:|---:|"
    for C in $CONNS; do
        T=$WRK_THREADS
        [ "$C" -lt "$T" ] && T=$C
        b0=$(metric "zen_batch_size_count{model=\"$NAME\"}")
        s0=$(metric "zen_batch_size_sum{model=\"$NAME\"}")
        wrk -t"$T" -c"$C" -d"$DURATION" -s "$ROOT/bench/serve_load.lua" "$URL/v1/models/$NAME:predict" >"$TMP/wrk.out" 2>&1 || true
        b1=$(metric "zen_batch_size_count{model=\"$NAME\"}")
        s1=$(metric "zen_batch_size_sum{model=\"$NAME\"}")
        R=$(grep '^RESULT' "$TMP/wrk.out" || { cat "$TMP/wrk.out"; echo "RESULT missing"; })
        v() { echo "$R" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
        ERR=$(($(v non2xx) + $(v connect) + $(v read) + $(v write) + $(v timeout)))
        [ "$ERR" -ne 0 ] && FAILED=1
        MEAN=$(awk -v b="$((b1 - b0))" -v s="$((s1 - s0))" 'BEGIN { printf "%.2f", b ? s / b : 0 }')
        echo "| $C | $(v rps) | $(v p50_ms) | $(v p90_ms) | $(v p99_ms) | $MEAN | $ERR |"
    done
    echo
    echo "server RSS after: $(rss $SERVER)"
    kill -TERM "$SERVER"
    wait "$SERVER" || { echo "the server did not exit cleanly"; FAILED=1; }
    SERVER=
done
echo "load average at the end: $(cut -d" " -f1-3 /proc/loadavg)"
[ $FAILED = 0 ] || { echo "FAILED: some requests failed"; exit 1; }
