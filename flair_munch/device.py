"""Choosing the torch device: CUDA when asked for or available, CPU otherwise."""

import logging

import torch

import flair

log = logging.getLogger("flair_munch")

DEVICES = ("auto", "cpu", "cuda")


def device_for(name: str) -> torch.device:
    """The device ``select_device(name)`` picks (``auto``: CUDA when torch sees one), without selecting it."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else torch.device(name)


def select_device(name: str = "auto") -> torch.device:
    """Sets ``flair.device`` from ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` and returns it."""
    if name == "auto":
        name = str(device_for(name))
    elif name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} was asked for, but torch sees no CUDA GPU; use --device cpu or auto")
    elif name != "cpu" and not name.startswith("cuda"):
        raise ValueError(f"unknown device {name!r}; choose one of {', '.join(DEVICES)} or cuda:N")
    flair.device = torch.device(name)
    log.info("device: %s", flair.device)
    return flair.device
