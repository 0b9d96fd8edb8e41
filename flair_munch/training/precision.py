"""Mixed precision: which arithmetic a run trains in (``TrainingSettings.precision``) and how the loop applies it.

``bf16`` and ``fp16`` run the encoder and the heads' linear layers under ``torch.autocast``; the heads
cast their scores to float32 before the CRF's forward algorithm, Viterbi and the loss (log-sum-exp in
bf16 loses the scores), and the weights and optimizer state stay float32. ``fp16`` (CUDA only) scales
the loss (``torch.amp.GradScaler``) so small gradients do not flush to zero. ``auto`` is bf16 where the
device does bf16 in hardware, else fp32: the resolved value is what a run did, so it is what its run
id hashes (``TrainingSettings.identity``), and fp32 never enters a run id.
"""

import contextlib
from typing import Optional, Union

import torch

PRECISIONS = ("fp32", "bf16", "fp16", "auto")
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16", "bf16", "sve_bf16")  # x86 (AMX, AVX512-BF16), ARM64 (BF16, SVE-BF16)

Device = Union[str, torch.device]


def native_bf16(device: Device) -> bool:
    """Whether ``device`` does bf16 arithmetic in hardware (where bf16 is faster than fp32, not emulated)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_available() and _cuda_bf16()
    if device.type == "cpu":
        return bool(_cpu_flags() & set(CPU_BF16_FLAGS))
    return False


def _cuda_bf16() -> bool:
    """torch's answer for the current GPU, emulation not counted (Ampere and later, ROCm)."""
    try:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # torch < 2.3 has no emulation to exclude
        return torch.cuda.is_bf16_supported()


def _cpu_flags() -> set[str]:
    """The CPU's features: torch's own detection (``torch.cpu.get_capabilities``), else Linux's /proc/cpuinfo."""
    capabilities = getattr(torch.cpu, "get_capabilities", None)
    if capabilities is not None:
        return {name for name, value in capabilities().items() if value is True}
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            return {flag for line in cpuinfo if line.startswith(("flags", "Features")) for flag in line.split()[2:]}
    except OSError:
        return set()


def resolve_precision(precision: str, device: Device) -> str:
    """``fp32``, ``bf16`` or ``fp16``: what a run with ``precision`` trains in on ``device``.

    Raises ``ValueError`` (one line: problem and fix) for ``fp16`` off CUDA and for ``bf16`` on a device
    without native bf16, where it would be slower than fp32.
    """
    problem = precision_problem(precision, device)
    if problem:
        raise ValueError(f"{problem[0]}. {problem[1]}")
    return ("bf16" if native_bf16(device) else "fp32") if precision == "auto" else precision


def precision_problem(precision: str, device: Device) -> Optional[tuple[str, str]]:
    """``(what is wrong, how to fix it)`` when ``device`` cannot train in ``precision`` (or should not), else None."""
    device = torch.device(device)
    if precision not in PRECISIONS:
        return f"unknown precision {precision!r}", f"Use one of {', '.join(PRECISIONS)}."
    if precision == "fp16" and device.type != "cuda":
        return (f"precision fp16 is for CUDA GPUs (with loss scaling), not the {device.type} device",
                "Use bf16 (on a CPU with native bf16 units) or fp32: `precision: fp32` in the recipe's training: "
                "or --precision fp32.")
    if precision == "bf16" and not native_bf16(device):
        unit = ("this CPU has no native bf16 units (amx_bf16 / avx512_bf16)" if device.type == "cpu" else
                f"the {device.type} device has no native bf16 support")
        return (f"precision bf16 was asked for, but {unit}: bf16 would be slower than fp32 here",
                "Turn it off with `precision: fp32` in the recipe's training: or --precision fp32 (or use auto, "
                "which picks fp32 here).")
    return None


def run_precision(precision: str) -> str:
    """What a run's id hashes: ``auto`` as what it resolves to on ``flair.device`` (fp32 or bf16), others as given
    (a device that cannot run them is refused when training starts, not here)."""
    import flair

    return resolve_precision("auto", flair.device) if precision == "auto" else precision


def autocast(precision: str, device: Device) -> contextlib.AbstractContextManager:
    """The context the forward pass runs in: ``torch.autocast`` for bf16/fp16, nothing for fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=DTYPES[precision])


def grad_scaler(precision: str, device: Device) -> Optional[torch.amp.GradScaler]:
    """A loss scaler for fp16 on CUDA (scale, unscale before clipping, step, update); ``None`` otherwise."""
    if precision != "fp16":
        return None
    return torch.amp.GradScaler(torch.device(device).type)
