# lib_model.sh — sourced by the zen predict / eval / summary tests (tests/cli/*_test.sh).
# Arguments of those tests: ZEN_BINARY BARS_SPEC IMAGE_FIXTURES_DIR. Trains the tiny "bars"
# model (tests/cli/bars.json: 8x8 images of a horizontal, vertical or diagonal line, class
# names set) on tests/fixtures/images/bars in a couple of seconds, into $tmp/bars.zen.
set -uo pipefail
zen=$1
spec=$2
fix=$3
bars=$fix/bars
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zen_cli_model.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
passes=0
fails=0

ok() { passes=$((passes + 1)); echo "ok   $*"; }
bad() { fails=$((fails + 1)); echo "FAIL $*"; }

# expect STATUS PATTERN -- ARGS...: zen ARGS exits with STATUS and its stdout+stderr contain
# PATTERN (a fixed string); stdout is kept in $tmp/out, stderr in $tmp/err.
expect() {
    local want=$1 pattern=$2
    shift 3
    "$zen" "$@" >"$tmp/out" 2>"$tmp/err"
    local got=$?
    if grep -qE "(Address|Leak|UndefinedBehavior)Sanitizer|runtime error:" "$tmp/err"; then
        bad "zen $*: sanitizer report:"
        head -30 "$tmp/err"
    elif [[ $got != "$want" ]] || ! cat "$tmp/out" "$tmp/err" | grep -qF -- "$pattern"; then
        bad "zen $* -> status $got (want $want), expected '$pattern' in:"
        sed 's/^/    /' "$tmp/out" "$tmp/err" | head -20
    else
        ok "zen $* -> $got: $(cat "$tmp/err" "$tmp/out" | head -n 1)"
    fi
}

# check DESCRIPTION COMMAND...: a shell condition
check() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}

train_bars() {
    if ! "$zen" train "$spec" --data "$bars" --verbose 0 --output "$tmp/bars.zen" >"$tmp/train.log" 2>&1; then
        echo "FAIL: training the bars model:"
        cat "$tmp/train.log"
        exit 1
    fi
}

# edit_model MODE: a copy of bars.zen rewritten by edit_model.py into $tmp/MODE.zen; returns
# 1 (and the caller skips that part) without /usr/bin/python3; a failing edit_model.py is a
# failure of the test, not a silent skip.
edit_model() {
    [[ -x /usr/bin/python3 ]] || { echo "skip: no /usr/bin/python3 for edit_model.py $1"; return 1; }
    /usr/bin/python3 "$here/edit_model.py" "$tmp/bars.zen" "$tmp/$1.zen" "$1" && return 0
    bad "edit_model.py $1 failed"
    return 1
}

finish() {
    echo "$passes passed, $fails failed"
    [[ $fails -eq 0 ]]
}
