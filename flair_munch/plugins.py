"""Schedules and model types from other installed packages, found by their entry points.

A package that declares, e.g. in its ``setup.cfg``::

    [options.entry_points]
    flair_munch.schedules =
        every-other = my_package.schedules:EveryOther

is imported before a recipe is read (and by ``flair-munch train``), so its ``@Schedule.register`` /
``@register_model`` classes are known by name to recipes and the CLI without any import in them.
"""

import logging
from importlib.metadata import entry_points

log = logging.getLogger("flair_munch")

GROUPS = ("flair_munch.schedules", "flair_munch.models")


def load_plugins() -> list[str]:
    """Imports every entry point of ``GROUPS``; one that fails to import is skipped with a warning."""
    loaded = []
    for group in GROUPS:
        for entry in entry_points(group=group):
            try:
                entry.load()
            except Exception as error:  # a broken plugin must not break every recipe
                log.warning("cannot load %s plugin %r (%s): %s: %s", group, entry.name, entry.value,
                            type(error).__name__, error)
                continue
            loaded.append(f"{group}:{entry.name}")
    return loaded
