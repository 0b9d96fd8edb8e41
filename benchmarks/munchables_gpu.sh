#!/usr/bin/env bash
# The MUNCHABLES study at the full low-resource size (recipes/munchables-lowres.yaml) on one H200 with 16
# CPU cores: runs packed eight at a time on the GPU as Ray tasks (2 cores and 1/8 of the GPU each). It
# stops itself after BUDGET seconds (default 480); finished runs keep their records, and running it again
# resumes the study. Then it writes the report of what finished and copies the study's records (no
# models) to $OUT/munchables-lowres, for committing under benchmarks/results/munchables-lowres/.
# Needs the seven corpora in .device-data/corpora (an ignored folder, carried to the device machine:
#   mkdir -p .device-data/corpora && cp -r ../shared/corpora/{NCBI-disease,BC5CDR-disease,BC5CDR-chem,BC2GM,JNLPBA,linnaeus,s800} .device-data/corpora/
# ) or FLAIR_MUNCH_DATA, and the package with the ray extra installed (pip install -e ".[ray]").
set -uo pipefail
cd "$(dirname "$0")/.."
export FLAIR_MUNCH_DATA="${FLAIR_MUNCH_DATA:-$PWD/.device-data/corpora}" RAY_AUTH_MODE=disabled
STUDY=benchmarks/results/munchables-lowres
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
start=$(date +%s)
timeout --signal=INT --kill-after=30 "${BUDGET:-480}" \
  flair-munch run recipes/munchables-lowres.yaml --workers "${WORKERS:-8}" --no-progress
rc=$?
echo "study stopped after $(( $(date +%s) - start )) s (exit $rc; 124: the budget ran out, run again to resume)"
flair-munch run recipes/munchables-lowres.yaml --dry-run | tail -1
flair-munch report "$STUDY" || echo "no finished run to report yet"
if [ -n "${OUT:-}" ]; then
  mkdir -p "$OUT/munchables-lowres"
  (cd "$STUDY" && find . -type f ! -name '*.pt' -print0 | xargs -0 -r cp --parents -t "$OUT/munchables-lowres")
fi
