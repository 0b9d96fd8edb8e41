"""Draw the small shipped corpus samples from the full corpora (reproducible).

Run from the repository root:

    python scripts/make_samples.py --data-dir ../shared/corpora

For each of the seven available biomedical corpora it keeps a seeded random
subset of every split (300 train / 150 dev / 150 test sentences, original
order) via ``flair_munch.corpora.subsample`` with seed 13, and writes
``flair_munch/resources/corpora/<Folder>/{train,dev,test}.tsv``. If a sample split has
fewer than 20 mentions, sentences that contain mentions are added from the
rest of the split (shuffled with ``random.Random(13)``) until it has 20; the
result is again put in original file order. Sentences are copied unchanged
(no length limit, no re-tagging).
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

# Run as a plain script from a checkout: make the repo root importable.
REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from flair_munch.corpora.bio import bio_spans  # noqa: E402
from flair_munch.corpora.conll import read_conll, write_conll  # noqa: E402
from flair_munch.corpora.registry import REGISTRY, find_split_files, resolve_corpus  # noqa: E402
from flair_munch.corpora.subsample import subsample  # noqa: E402

SEED = 13
SIZES = {"train": 300, "dev": 150, "test": 150}
MIN_MENTIONS = 20
# BC4CHEMD is not available; CoNLL-2003 text must never be copied into the repo.
CORPORA = ("ncbi-disease", "bc5cdr-disease", "bc5cdr-chem", "bc2gm", "jnlpba", "linnaeus", "s800")


def _mentions(sentence) -> int:
    return len(bio_spans([tag for _, tag in sentence]))


def draw(sentences: list, size: int, seed: int = SEED, min_mentions: int = MIN_MENTIONS) -> tuple[list, int]:
    """Seeded sample in file order, topped up with mention-bearing sentences if needed.

    Returns:
        The sample and how many sentences the top-up added.
    """
    keep = set(subsample(range(len(sentences)), size, seed))
    total = sum(_mentions(sentences[i]) for i in keep)
    extra = [i for i in range(len(sentences)) if i not in keep and _mentions(sentences[i]) > 0]
    random.Random(seed).shuffle(extra)
    added = 0
    while total < min_mentions and extra:
        i = extra.pop()
        keep.add(i)
        total += _mentions(sentences[i])
        added += 1
    return [sentences[i] for i in sorted(keep)], added


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder with the full corpora (default: $FLAIR_MUNCH_DATA)")
    parser.add_argument("--out", default=str(REPO_ROOT / "flair_munch" / "resources" / "corpora"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    for name in CORPORA:
        _, folder = resolve_corpus(name, data_dir=args.data_dir)
        for split, path in find_split_files(folder).items():
            sentences = read_conll(path, max_length=None).sentences
            sample, added = draw(sentences, SIZES[split])
            target = out / REGISTRY[name].folder / f"{split}.tsv"
            write_conll(target, sample)
            mentions = sum(_mentions(s) for s in sample)
            print(f"{name:15s} {split:5s} {len(sample):4d} sentences {mentions:4d} mentions (+{added} top-up) -> {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
