"""Builds the shipped offline embeddings set, ``flair_munch/resources/embeddings/small/``.

Trained on the *training splits only* of the seven biomedical corpora, so that no dev or
test text of any benchmark leaks into the embeddings. Run from the repository root:

    python scripts/build_default_embeddings.py [--data-dir ../shared/corpora] [--out DIR]

Equivalent CLI: ``flair-munch embeddings build --corpora NCBI-disease BC5CDR-disease
BC5CDR-chem BC2GM JNLPBA linnaeus s800 --data-dir DIR --out DIR --lm-max-chars 1600000 --num-threads 1``.
"""

import argparse
import logging
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

CORPORA = ("NCBI-disease", "BC5CDR-disease", "BC5CDR-chem", "BC2GM", "JNLPBA", "linnaeus", "s800")
# ~9 MB of sentence text in all; a seeded 1.6 MB sample (1.44 MB train) keeps both LMs at
# ~15 minutes on one core of a shared 2-core machine (one torch thread, see build_embeddings).
LM_MAX_CHARS = 1_600_000


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="corpora folder (default $FLAIR_MUNCH_DATA)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "flair_munch" / "resources" / "embeddings" / "small")
    parser.add_argument("--lm-epochs", type=int, default=8)
    parser.add_argument("--lm-max-chars", type=int, default=LM_MAX_CHARS)
    parser.add_argument("--num-threads", type=int, default=1)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from flair_munch.embeddings.builder import build_embeddings

    from flair_munch.corpora import resolve_data_dir

    data_dir = resolve_data_dir(args.data_dir)
    files = [data_dir / name / "train.tsv" for name in CORPORA]
    summary = build_embeddings(
        files,
        args.out,
        lm_epochs=args.lm_epochs,
        lm_max_chars=args.lm_max_chars,
        num_threads=args.num_threads,
        overwrite=args.overwrite,
    )
    print(summary.format())


if __name__ == "__main__":
    main()
