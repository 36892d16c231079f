#!/bin/sh
# The page of `zen serve` in headless Chromium: draws a digit with synthesized mouse (and
# touch) events and checks that a prediction with bars appears (serve_page_test.mjs).
#   serve_page_test.sh ZEN SERVE_MODEL
# Runs with ZEN_FULL_TESTS=1 (skips, exit 77, otherwise). Needs Debian's chromium and node
# (20+, or older with npm's ws package; scripts/setup.sh --full installs them).
ZEN=$1
MAKER=$2
HERE=$(cd "$(dirname "$0")" && pwd)
if [ "${ZEN_FULL_TESTS:-0}" != 1 ]; then
    echo "skipped: set ZEN_FULL_TESTS=1 to drive the page in headless Chromium"
    exit 77
fi
for tool in chromium node; do
    command -v $tool >/dev/null || { echo "FAIL: $tool is missing (run scripts/setup.sh --full)"; exit 1; }
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/zen_serve_page_XXXXXX")
SERVER=
BROWSER=
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null
    [ -n "$BROWSER" ] && kill "$BROWSER" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

# wait_for FILE PATTERN: up to 30 s for a line matching PATTERN
wait_for() {
    i=0
    while [ $i -lt 300 ]; do
        grep -q "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
        i=$((i + 1))
    done
    echo "FAIL: nothing matching '$2' in $1:"
    cat "$1"
    return 1
}

# With MNIST at hand the digit model is trained on it for a few seconds, and a drawn 7 and 1
# must then be read as such (that checks the page's MNIST-style preprocessing).
MNIST=${ZEN_DATA_DIR:-$HOME/.cache/zen/datasets}/mnist
if [ -e "$MNIST/train-images-idx3-ubyte" ] || [ -e "$MNIST/train-images-idx3-ubyte.gz" ]; then
    "$MAKER" "$TMP" --train "$MNIST" || exit 1
    export ZEN_TRAINED=1
else
    echo "note: no MNIST in $MNIST (scripts/fetch_data.sh mnist): the page is tested with an untrained model"
    "$MAKER" "$TMP" || exit 1
fi
"$ZEN" serve "$TMP" --port 0 >"$TMP/server.log" 2>&1 &
SERVER=$!
wait_for "$TMP/server.log" "listening on" || exit 1
URL=$(sed -n 's|.*listening on \(http://[0-9.]*:[0-9]*\).*|\1|p' "$TMP/server.log")/

# --no-sandbox: the test may run as root (containers, CI)
chromium --headless=new --no-sandbox --disable-gpu --no-first-run --no-default-browser-check \
    --user-data-dir="$TMP/profile" --remote-debugging-port=0 --remote-debugging-address=127.0.0.1 \
    --window-size=1100,800 about:blank >"$TMP/chromium.log" 2>&1 &
BROWSER=$!
wait_for "$TMP/chromium.log" "DevTools listening on ws://" || exit 1
WS=$(sed -n 's|.*DevTools listening on \(ws://[^ ]*\).*|\1|p' "$TMP/chromium.log" | head -n 1)

# node 20 has WebSocket behind a flag, later versions have it on; older ones use npm's ws
FLAG=
node -e 'process.exit(typeof WebSocket === "function" ? 0 : 1)' 2>/dev/null || FLAG=--experimental-websocket
node $FLAG -e 'process.exit(typeof WebSocket === "function" ? 0 : 1)' 2>/dev/null || FLAG=
NODE_PATH=$(npm root -g 2>/dev/null) timeout 120 node $FLAG "$HERE/serve_page_test.mjs" "$URL" "$WS"
rc=$?
[ $rc -ne 0 ] && { echo "--- server log"; cat "$TMP/server.log"; }
exit $rc
