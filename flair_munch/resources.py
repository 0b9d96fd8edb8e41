"""Where the shipped resources (corpus samples, small embeddings) live.

They sit in the repository's ``resources/`` folder rather than inside the
package, so an env var lets installed copies point at a checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

RESOURCES_ENV_VAR = "FLAIR_MUNCH_RESOURCES"


def resources_dir() -> Path:
    """Return ``$FLAIR_MUNCH_RESOURCES`` if set, else ``<repo root>/resources``."""
    override = os.environ.get(RESOURCES_ENV_VAR)
    if override:
        return Path(override).expanduser().resolve()
    # This file is flair_munch/resources.py, so parents[1] is the repo root
    # (the same folder as Path(flair_munch.__file__).resolve().parents[1]).
    return Path(__file__).resolve().parents[1] / "resources"
