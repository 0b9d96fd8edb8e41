"""Where the shipped resources (corpus samples, small embeddings, label maps) live.

They are package data of ``flair_munch.resources`` (this folder: ``corpora/``,
``embeddings/small/``, ``label_maps/``, and ``README.md`` with their provenance and
licences), so editable installs, ``pip install .`` and wheels all find them.
``$FLAIR_MUNCH_RESOURCES`` points an installed copy at another folder of the same layout.
"""

from __future__ import annotations

import os
from pathlib import Path

RESOURCES_ENV_VAR = "FLAIR_MUNCH_RESOURCES"


def resources_dir() -> Path:
    """Return ``$FLAIR_MUNCH_RESOURCES`` if set, else this package's folder (``flair_munch/resources``)."""
    override = os.environ.get(RESOURCES_ENV_VAR)
    if override:
        return Path(override).expanduser().resolve()
    return Path(__file__).resolve().parent
