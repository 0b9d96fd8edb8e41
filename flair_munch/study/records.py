"""What to commit of a long study as it goes, so that another checkout resumes it from the records alone.

A run is finished when its ``metrics.json`` is there (:class:`RunDirectory`); the study's index is
rebuilt from those files, and the report reads each run's test tags. Models, checkpoints and the
embedding store are left out (large, and rebuilt where needed); the full predictions file is
replaced by its compact copy (``test-predictions.tags.gz``, about 1/80 of the size).
"""

from pathlib import Path
from typing import Union

from flair_munch.evaluation.prediction_file import read_prediction_file, write_tag_file
from flair_munch.evaluation.results_index import PACKED_PREDICTIONS_FILE, PREDICTIONS_FILE, RESULTS_FILE

RUN_RECORDS = ("metrics.json", "history.json", "history.tsv", "train.log", "executor.json", PACKED_PREDICTIONS_FILE)
STUDY_RECORDS = (RESULTS_FILE, "recipe.json")


def pack_records(study_dir: Union[str, Path]) -> list[Path]:
    """Writes the compact predictions of every finished run that lacks an up-to-date one; returns the files
    to commit (the index, the recipe, and each finished run's records), sorted."""
    study = Path(study_dir)
    files = [study / name for name in STUDY_RECORDS if (study / name).is_file()]
    for metrics in sorted(study.glob("*runs/*/metrics.json")):  # runs/<id>/ and shared-runs/<name>/
        folder = metrics.parent
        full, packed = folder / PREDICTIONS_FILE, folder / PACKED_PREDICTIONS_FILE
        if full.is_file() and (not packed.is_file() or packed.stat().st_mtime < full.stat().st_mtime):
            write_tag_file(packed, *read_prediction_file(full))
        files += [folder / name for name in RUN_RECORDS if (folder / name).is_file()]
    return sorted(files)
