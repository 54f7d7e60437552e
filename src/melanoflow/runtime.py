"""Device choice, mixed precision, seeding and logging shared by the training stages."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import random
import sys

import numpy as np
import torch

from melanoflow import gpuslots

log = logging.getLogger(__name__)

# Test-time augmentation: the image as it is and its horizontal, vertical and double flips (the dims of an
# (..., H, W) tensor to flip); each flip is its own inverse.
TTA_FLIPS = ((), (-1,), (-2,), (-2, -1))


def flipped(batch: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """``batch`` flipped along ``dims`` (one of TTA_FLIPS); as it is for ``()``."""
    return batch.flip(dims) if dims else batch


def setup_logging(log_path: str | None = None, level: int = logging.INFO) -> None:
    """Send the library's log records (and warnings) to ``log_path`` or stderr.

    Workflow scripts call this first so that each job's messages land in the rule's ``log:`` file. With a
    log file, an exception that ends the job is written there with its traceback too (and still printed
    on stderr, where Snakemake shows it).
    """
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_path:
        os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
        handlers = [logging.FileHandler(log_path, mode="w")]
        sys.excepthook = log_uncaught_exception
    logging.basicConfig(
        level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=handlers, force=True
    )
    logging.captureWarnings(True)


def log_uncaught_exception(exc_type, exc, traceback) -> None:
    """``sys.excepthook`` of a job: the traceback into the job's log, then the default report on stderr."""
    if not issubclass(exc_type, KeyboardInterrupt):
        logging.getLogger("melanoflow").critical("the job failed", exc_info=(exc_type, exc, traceback))
    sys.__excepthook__(exc_type, exc, traceback)


def select_device(name: str = "auto") -> torch.device:
    """``cpu``, ``cuda`` or ``auto`` (CUDA when a device exists). Asking for CUDA without one is an error.

    A CUDA job first locks a free GPU slot (:mod:`melanoflow.gpuslots`) and from then on sees only that
    GPU, so concurrent jobs on a multi-GPU machine spread over its GPUs; the lock lasts as long as the
    process. Call this before anything else touches CUDA. ``cuda:N`` pins a device and takes no slot.
    """
    if name not in ("auto", "cuda"):
        if name.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError(f"device {name!r} requested but no CUDA device is available")
        return torch.device(name)
    if gpuslots.acquire_device() is None:
        if name == "cuda":
            raise RuntimeError("device 'cuda' requested but no CUDA device is available")
        return torch.device("cpu")
    # Once CUDA has started in this process it keeps the device list it saw then, whatever the
    # environment now says: address the held device by its position in that list.
    return torch.device("cuda", gpuslots.held_device_position() if torch.cuda.is_initialized() else 0)


CPU_PRECISION_ENV = "MELANOFLOW_CPU_PRECISION"
# CPU flags (Linux /proc/cpuinfo) of native bf16 arithmetic: AMX tiles and AVX512-BF16 dot products.
NATIVE_BF16_FLAGS = frozenset({"amx_bf16", "avx512_bf16"})
CPUINFO = "/proc/cpuinfo"
_logged_choices: set[tuple[bool, str]] = set()


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (the ``flags`` line of Linux ``/proc/cpuinfo``); empty where unreadable."""
    try:
        with open(CPUINFO) as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == "flags":
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def _onednn_bf16() -> bool:
    """Whether oneDNN (mkldnn) reports bf16 support; on its own it also says yes on CPUs that emulate bf16."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _cpu_bf16_choice() -> tuple[bool, str]:
    """(use bf16 on the CPU, why)."""
    override = os.environ.get(CPU_PRECISION_ENV, "").strip().lower()
    if override in ("bf16", "fp32"):
        return override == "bf16", f"{CPU_PRECISION_ENV}={override}"
    if override not in ("", "auto"):
        raise ValueError(f"{CPU_PRECISION_ENV}={override!r}: expected bf16, fp32 or auto (or unset)")
    native = sorted(NATIVE_BF16_FLAGS & cpu_flags())
    if not native:
        return False, ("the CPU has no native bf16 (no amx_bf16 / avx512_bf16 flag), where bf16 runs slower "
                       f"than fp32; set {CPU_PRECISION_ENV}=bf16 to force it")
    if not _onednn_bf16():
        return False, f"the CPU has {', '.join(native)} but oneDNN in this torch build reports no bf16 support"
    return True, f"the CPU has native bf16 ({', '.join(native)}) and oneDNN supports it"


def cpu_supports_bf16() -> bool:
    """True when bf16 pays off on this CPU: native bf16 units (AMX or AVX512-BF16) that oneDNN can use.

    oneDNN alone also reports bf16 on CPUs that only emulate it (e.g. Skylake-SP's AVX-512), where bf16
    matmuls and convolutions run 2-4x slower than fp32; so the CPU flags decide. The environment variable
    ``MELANOFLOW_CPU_PRECISION`` (``bf16`` or ``fp32``; ``auto`` or unset: detect) overrides the choice.
    The choice and its reason are logged once.
    """
    use_bf16, reason = _cpu_bf16_choice()
    if (use_bf16, reason) not in _logged_choices:
        _logged_choices.add((use_bf16, reason))
        log.info("CPU precision: %s, as %s", "bf16" if use_bf16 else "fp32", reason)
    return use_bf16


def low_precision_dtype(device: torch.device) -> torch.dtype | None:
    """The reduced precision the device computes fast in: bf16 on capable CPUs, bf16/fp16 on CUDA, else None."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_supports_bf16():
        return torch.bfloat16
    return None


def autocast(device: torch.device, enabled: bool = True):
    """Mixed precision for the device: bf16 on capable CPUs, fp16/bf16 AMP on CUDA, no-op otherwise."""
    dtype = low_precision_dtype(device) if enabled else None
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def seed_everything(seed: int) -> torch.Generator:
    """Seed Python, NumPy and torch; return a torch generator seeded the same way for data order."""
    random.seed(seed)
    # The legacy global NumPy RNG is seeded too: torchvision and scikit-image draw from it.
    np.random.seed(seed % 2**32)  # noqa: NPY002
    torch.manual_seed(seed)
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def rng_state() -> dict:
    """Every RNG state a resumed run needs to continue exactly where it stopped."""
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}  # noqa: NPY002
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def load_checkpoint(path: str | os.PathLike, weights_only: bool = True, **options) -> dict:
    """``torch.load`` of a model file a stage wrote; a truncated or foreign file is a :class:`BadInputError`
    naming it and the rule to rerun, not a pickle traceback."""
    import pickle
    import zipfile

    from melanoflow.fileio import BadInputError

    try:
        return torch.load(path, map_location="cpu", weights_only=weights_only, **options)
    except FileNotFoundError:
        raise
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile) as error:
        raise BadInputError(f"{path}: not a readable model file ({error}); delete it and rerun the rule "
                            "that writes it") from error


def save_checkpoint(path: str | os.PathLike, state: dict) -> None:
    """``torch.save`` through a temporary file, so an interrupted save never replaces a good checkpoint."""
    from melanoflow.fileio import atomic_path

    with atomic_path(path) as tmp:
        torch.save(state, tmp)
