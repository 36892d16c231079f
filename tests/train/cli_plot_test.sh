#!/bin/sh
# `zen plot`: a CSVLogger history becomes a well-formed SVG; bad arguments and files give
# clear messages and exit statuses (2 usage, 1 unreadable/unwritable files).
# usage: cli_plot_test.sh ZEN_BINARY HISTORY_CSV
zen=$1
csv=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zen_cli_plot.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
fail=0

# expect STATUS PATTERN -- ARGS...: runs zen with ARGS, checks the exit status and that
# stdout+stderr contain PATTERN (a fixed string)
expect() {
    want=$1 pattern=$2
    shift 3
    "$zen" "$@" >"$tmp/out" 2>&1
    got=$?
    if [ "$got" != "$want" ] || ! grep -qF -- "$pattern" "$tmp/out"; then
        echo "FAIL: zen $* -> status $got (want $want), output:"
        sed 's/^/    /' "$tmp/out"
        echo "    (expected to contain: $pattern)"
        fail=1
    else
        echo "ok   zen $* -> $got: $(head -n 1 "$tmp/out")"
    fi
}

expect 0 "wrote $tmp/curves.svg (12 epochs)" -- plot "$csv" -o "$tmp/curves.svg"
head -c 4 "$tmp/curves.svg" | grep -q '<svg' || { echo "FAIL: curves.svg does not start with <svg"; fail=1; }
for name in '>loss<' '>val_loss<' '>accuracy<' '>val_accuracy<' '>epoch<'; do
    grep -qF "$name" "$tmp/curves.svg" || { echo "FAIL: curves.svg has no $name"; fail=1; }
done
if [ -x /usr/bin/python3 ]; then
    /usr/bin/python3 -c 'import sys, xml.dom.minidom as M; r = M.parse(sys.argv[1]).documentElement; assert r.tagName == "svg" and len(r.getElementsByTagName("polyline")) == 6' "$tmp/curves.svg" ||
        { echo "FAIL: curves.svg is not the well-formed SVG expected"; fail=1; }
fi

# without -o: next to the CSV, .csv replaced by .svg
cp "$csv" "$tmp/run.csv"
expect 0 "wrote $tmp/run.svg" -- plot "$tmp/run.csv"
[ -s "$tmp/run.svg" ] || { echo "FAIL: $tmp/run.svg was not written"; fail=1; }

expect 0 "usage: zen plot" -- plot --help
expect 0 "plot " -- help
expect 2 "no history file given" -- plot
expect 2 "unknown option '-x'" -- plot "$csv" -x
expect 2 "-o needs a file name" -- plot "$csv" -o
expect 2 "one history file at a time" -- plot "$csv" "$csv"
expect 2 "would overwrite the history file" -- plot "$tmp/run.csv" -o "$tmp/run.csv"
expect 1 "cannot open $tmp/missing.csv" -- plot "$tmp/missing.csv"
printf 'epoch,loss\n0,1\n1,oops\n' >"$tmp/bad.csv"
expect 1 "bad.csv:3: column 2 (loss) is not a number" -- plot "$tmp/bad.csv"
printf 'step,loss\n0,1\n' >"$tmp/nohead.csv"
expect 1 "header starting with 'epoch'" -- plot "$tmp/nohead.csv"
expect 1 "cannot write $tmp/no/such/dir/x.svg" -- plot "$csv" -o "$tmp/no/such/dir/x.svg"
exit $fail
