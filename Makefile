# The README's commands. Each target installs what it needs (scripts/setup.sh) first.
#   make mnist   train the reference example on MNIST and report test accuracy
#   make test    build, then run the whole test suite: release build + ASan/UBSan build
#   make build   configure and build the release tree in build/
#   make bench   run the benchmarks side by side with PyTorch (see BENCHMARKS.md)
#   make clean

JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all setup data build build-asan test test-release test-asan bench mnist clean

all: build

setup:
	@scripts/setup.sh

data: setup
	@scripts/fetch_data.sh mnist
	@scripts/fetch_data.sh gpt2-bpe bible-kjv spam-assassin

build: setup
	cmake -S . -B build -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)
	cmake --build build -j$(JOBS)

build-asan: setup
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DZEN_SANITIZE=ON $(CMAKE_FLAGS)
	cmake --build build-asan -j$(JOBS)

test-release: build data
	cd build && ctest --output-on-failure -j$(JOBS)

# detect_leaks: LeakSanitizer needs ptrace, which some containers forbid; leaks are
# checked where it works (set ASAN_OPTIONS yourself to override).
test-asan: build-asan
	cd build-asan && ASAN_OPTIONS=$${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j$(JOBS)

test: fuzz-smoke test-release test-asan

# The reference Keras example: Conv2D(32) -> MaxPooling2D -> Flatten -> Dense(128) ->
# Dense(10), adam, categorical_crossentropy, 5 epochs, batch 64, validation_split 0.2.
mnist: build data
	build/zen train examples/mnist_cnn.json --data mnist --epochs 5 --batch-size 64 \
	  --validation-split 0.2 --output mnist_cnn.zen --history mnist_history.csv --plot mnist_curves.svg

bench: build
	bench/run_all.sh

clean:
	rm -rf build build-asan

# The model-file loader under libFuzzer (clang-14, ASan/UBSan; tests/fuzz/run.sh builds it in
# build-fuzz/): 20 s in `make test`; `make fuzz FUZZ_SECONDS=600` for a longer run.
FUZZ_SECONDS ?= 600
.PHONY: fuzz fuzz-smoke
fuzz-smoke: setup
	tests/fuzz/run.sh 20

fuzz: setup
	tests/fuzz/run.sh $(FUZZ_SECONDS)
