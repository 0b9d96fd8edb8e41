#!/usr/bin/env bash
# One command for one H200 (16 CPU cores), under 8 minutes: the CUDA tests, then 1, 4 and 8 runs packed on the GPU.
# Needs the corpora in .device-data/corpora (an ignored folder: cp -r ../shared/corpora/NCBI-disease there) or
# FLAIR_MUNCH_DATA, and the package with the ray extra installed. Tables: benchmarks/results/gpu_study.md.
set -euo pipefail
cd "$(dirname "$0")/.."
export FLAIR_MUNCH_DATA="${FLAIR_MUNCH_DATA:-$PWD/.device-data/corpora}"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
timeout 240 python -m pytest -q tests/test_cuda.py 2>&1 | tail -5
timeout 360 python benchmarks/gpu_study.py --data-dir "$FLAIR_MUNCH_DATA" --packings 1 4 8
