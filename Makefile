# The README's commands. Each target installs what it needs (scripts/setup.sh) first.
#   make test    build, then run the whole test suite: release build + ASan/UBSan build
#   make build   configure and build the release tree in build/
#   make bench   run the benchmarks side by side with PyTorch (see BENCHMARKS.md)
#   make clean

JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all setup build build-asan test test-release test-asan bench clean

all: build

setup:
	@scripts/setup.sh

build: setup
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	cmake --build build -j$(JOBS)

build-asan: setup
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DZEN_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build build-asan -j$(JOBS)

test-release: build
	cd build && ctest --output-on-failure -j$(JOBS)

# detect_leaks: LeakSanitizer needs ptrace, which some containers forbid; leaks are
# checked where it works (set ASAN_OPTIONS yourself to override).
test-asan: build-asan
	cd build-asan && ASAN_OPTIONS=$${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j$(JOBS)

test: test-release test-asan

bench: build
	bench/run_all.sh

clean:
	rm -rf build build-asan
