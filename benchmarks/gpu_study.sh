#!/usr/bin/env bash
# One command for one H200 (16 CPU cores), under 8 minutes: the CUDA tests (AMP included), then 1 and 8 runs packed
# on the GPU in fp32 and with automatic mixed precision (bf16; fp16 with loss scaling): rates and test F1.
# Needs the corpora in .device-data/corpora (an ignored folder: cp -r ../shared/corpora/NCBI-disease there) or
# FLAIR_MUNCH_DATA, and the package with the ray extra installed. Tables: benchmarks/results/gpu_study.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export FLAIR_MUNCH_DATA="${FLAIR_MUNCH_DATA:-$PWD/.device-data/corpora}"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout 150 python -m pytest -q tests/test_cuda.py 2>&1 | tail -5
timeout 300 python benchmarks/gpu_study.py --data-dir "$FLAIR_MUNCH_DATA" --packings 1 8 --precisions fp32 bf16 fp16
