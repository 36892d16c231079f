#!/bin/sh
# Builds the libFuzzer target for the model-file loader (tests/fuzz/fuzz_model_load.c) with
# clang-14, AddressSanitizer and UndefinedBehaviorSanitizer in build-fuzz/, and runs it for
# SECONDS (default 20) on the committed seed corpus (tests/fuzz/corpus, read only) plus a
# working corpus that grows across runs (build-fuzz/fuzz-corpus). A crash, leak, sanitizer
# report, timeout or out-of-memory fails the run and leaves the input in build-fuzz/fuzz-artifacts/.
#   tests/fuzz/run.sh            the brief run (`make fuzz-smoke`, part of `make test`)
#   tests/fuzz/run.sh 600        a longer run (`make fuzz FUZZ_SECONDS=600`)
# ZEN_FUZZ_CC picks another clang; without one the run is skipped (exit 0, with a message).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-${FUZZ_SECONDS:-20}}
build=${ZEN_FUZZ_BUILD:-$root/build-fuzz}
cc=${ZEN_FUZZ_CC:-clang-14}
if ! command -v "$cc" >/dev/null 2>&1; then
    echo "fuzz: $cc not found (scripts/setup.sh installs clang-14): skipped"
    exit 0
fi
mkdir -p "$build"
if ! { cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER="$cc" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZEN_SANITIZE=ON \
        -DZEN_FUZZ=ON -DZEN_BUILD_BENCH=OFF -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link" &&
      cmake --build "$build" -j"$(nproc)" --target fuzz_model_load; } >"$build/fuzz-build.log" 2>&1; then
    tail -n 30 "$build/fuzz-build.log"
    echo "fuzz: building fuzz_model_load failed (log: $build/fuzz-build.log)"
    exit 1
fi
mkdir -p "$build/fuzz-corpus" "$build/fuzz-artifacts"
echo "fuzz: fuzz_model_load for ${secs}s (corpus $build/fuzz-corpus + tests/fuzz/corpus)"
# allocator_may_return_null: a failed huge allocation is an error path to test, not a crash
ASAN_OPTIONS=${ASAN_OPTIONS:-allocator_may_return_null=1:detect_leaks=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
OMP_NUM_THREADS=1 \
    "$build/tests/fuzz_model_load" -max_total_time="$secs" -timeout=20 -rss_limit_mb=3072 -max_len=65536 \
    -dict="$root/tests/fuzz/model.dict" -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/" "$build/fuzz-corpus" "$root/tests/fuzz/corpus" \
    2>"$build/fuzz.log" || {
    tail -n 60 "$build/fuzz.log"
    echo "fuzz: FAILED (log: $build/fuzz.log; inputs in $build/fuzz-artifacts/)"
    exit 1
}
grep -E "^stat::number_of_executed_units|^stat::new_units_added|^stat::peak_rss_mb" "$build/fuzz.log" || true
echo "fuzz: no crashes in ${secs}s"
