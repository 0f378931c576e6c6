#!/usr/bin/env bash
# ArchLab's `bench train` and nanoGPT (PyTorch eager, the anchors' nanogpt_train_bench.py) on the same shape, alternating
# in rounds so that the machine's noise falls on both: 4 layers, 4 heads, T 256, batch 16, vocab 256, 2 threads,
# dims 128 and 256, float32 and bf16 (nanoGPT: CPU autocast; ArchLab: --bf16's matmuls).
# Needs: apt-get install python3-torch libopenblas0-openmp; NANOGPT_DIR=<karpathy/nanoGPT tree (model.py)>.
# Usage: NANOGPT_DIR=... experiments/train-speed/side-by-side.sh [rounds=3] > experiments/train-speed/side-by-side.txt
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
anchors="${ANCHORS_DIR:-$here/../shared/anchors}"
rounds="${1:-3}"
: "${NANOGPT_DIR:?set NANOGPT_DIR to a karpathy/nanoGPT tree}"
echo "# $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores;" \
     "flags: $(grep -m1 flags /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512f|avx512_bf16|amx_bf16)$' | xargs)"
for round in $(seq 1 "$rounds"); do
  for dim in 128 256; do
    for dtype in float32 bfloat16; do
      LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 "$anchors/nanogpt_train_bench.py" \
        --n-embd "$dim" --dtype "$dtype" --threads 2 --reps 3 --min-rep-time 2 \
        | python3 -c "import json,sys; j=json.loads(sys.stdin.read()); print(f'round $round nanogpt dim $dim $dtype {j[\"tok_s_median\"]:.0f} tok/s (reps {j[\"tok_s_min\"]:.0f}-{j[\"tok_s_max\"]:.0f}), {j[\"params_M\"]}M parameters')"
    done
    "$here/archlab" bench train --dim "$dim" --threads 2 --rounds 3 | sed "s/^/round $round archlab dim $dim | /"
  done
done
