#!/usr/bin/env bash
# The MUNCHABLES study at the full low-resource size (recipes/munchables-lowres.yaml) on one H200 with 16
# CPU cores: runs packed eight at a time on the GPU as Ray tasks (2 cores and 1/8 of the GPU each). It
# stops itself after BUDGET seconds (default 480); finished runs keep their records, and running it again
# resumes the study. Then it writes the report of what finished and copies the study's records (no
# models; benchmarks/pack_study.py) and report under $OUT, to commit as benchmarks/results/munchables-lowres/.
# Needs the seven corpora in .device-data/corpora (an ignored folder, carried to the device machine:
#   mkdir -p .device-data/corpora && cp -r ../shared/corpora/{NCBI-disease,BC5CDR-disease,BC5CDR-chem,BC2GM,JNLPBA,linnaeus,s800} .device-data/corpora/
# ) or FLAIR_MUNCH_DATA, and the package with the ray extra installed (pip install -e ".[ray]").
set -uo pipefail
cd "$(dirname "$0")/.."
export FLAIR_MUNCH_DATA="${FLAIR_MUNCH_DATA:-$PWD/.device-data/corpora}" RAY_AUTH_MODE=disabled
RECIPE="${RECIPE:-recipes/munchables-lowres.yaml}"  # another recipe checks this script on a CPU
STUDY=$(python -c "import sys; from flair_munch.recipes import load_recipe; print(load_recipe(sys.argv[1]).output_dir)" "$RECIPE")
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || echo "no GPU: the runs train on the CPU"
start=$(date +%s)
timeout --signal=INT --kill-after=30 "${BUDGET:-480}" \
  flair-munch run "$RECIPE" --executor "${EXECUTOR:-ray}" --workers "${WORKERS:-8}" --no-progress
rc=$?
echo "study stopped after $(( $(date +%s) - start )) s (exit $rc; 124: the budget ran out, run again to resume)"
flair-munch run "$RECIPE" --dry-run | tail -1
flair-munch report "$STUDY" || echo "no finished run to report yet"
if [ -n "${OUT:-}" ]; then
  python benchmarks/pack_study.py "$STUDY" | xargs -r cp --parents -t "$OUT"   # records only, no models
  [ -d "$STUDY/report" ] && cp -r --parents "$STUDY/report" "$OUT"
fi
