#!/bin/bash
# bench/gpt2_generate.sh — generation speed of `zen generate` beside plain PyTorch with a
# key/value cache, on a randomly initialised GPT-2 (small: the 124M shape) written as a
# Hugging Face checkpoint. Greedy decoding of TOKENS tokens after a PROMPT-token prompt.
#
#   bench/gpt2_generate.sh [--size small|tiny|char-a] [--threads N] [--tokens 64] [--prompt 16]
#
# Needs the release build (build/zen). The checkpoint (about 500 MB for small) goes to a
# temporary directory, removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=small THREADS=1 TOKENS=64 PROMPT=16
while [ $# -gt 0 ]; do
    case "$1" in
    --size) SIZE=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --tokens) TOKENS=$2; shift 2 ;;
    --prompt) PROMPT=$2; shift 2 ;;
    *) echo "gpt2_generate.sh: unknown argument $1" >&2; exit 2 ;;
    esac
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/zen_gpt2_bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT
echo "GPT-2 $SIZE, $THREADS thread(s), prompt $PROMPT, $TOKENS tokens (greedy)"
OMP_NUM_THREADS=$THREADS /usr/bin/python3 bench/gpt2_generate_torch.py --out "$dir" --size "$SIZE" \
    --prompt "$PROMPT" --tokens "$TOKENS" --threads "$THREADS" --ids-out "$dir/torch.ids"
ids=$(seq -s, 0 $((PROMPT - 1)))
OMP_NUM_THREADS=$THREADS build/zen generate "$dir" --prompt-ids "$ids" --max-tokens "$TOKENS" \
    --temperature 0 --threads "$THREADS" 2>"$dir/zen.err" >"$dir/zen.ids"
sed 's/^zen generate:/zen:  /' "$dir/zen.err"
# The same greedy tokens on both sides (the logits agree to float rounding).
if cmp -s "$dir/torch.ids" "$dir/zen.ids"; then echo "greedy tokens: identical"; else
    echo "greedy tokens differ:"; echo "  torch: $(cat "$dir/torch.ids")"; echo "  zen:   $(cat "$dir/zen.ids")"; fi
