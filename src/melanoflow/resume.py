"""One resume mechanism for every trainer: a resume file beside the output, stamped with a fingerprint.

A trainer saves its whole state (weights, optimizers, RNG states, history, counters) to
``<output stem>.resume.pt`` as it goes. The fingerprint has three parts: the settings that shape the run,
the content of what it trains on (pixels and labels, not their paths: a re-purified image keeps its
path) and the source of the modules that define the training. A rerun whose fingerprint matches
continues where the interrupted run stopped and ends bit-identical to an uninterrupted run; any other
starts over and logs which part differed. The file is removed when training finishes, so a finished run
leaves only its declared outputs. It is no workflow output either, so a failed job's file survives for
the retry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import torch

from melanoflow.runtime import save_checkpoint

log = logging.getLogger(__name__)


def resume_path(output: str | os.PathLike) -> Path:
    """``results/models/classifier.baseline.pt`` -> ``results/models/classifier.baseline.resume.pt``."""
    output = Path(output)
    return output.with_name(f"{output.stem}.resume.pt")


def legacy_resume_paths(output: str | os.PathLike) -> list[Path]:
    """Where earlier versions kept their partial state: the segmenter ``<stem>.checkpoint.pt``, the GAN
    ``<output>.resume``, the inpainting network ``<output>.partial``. Never read (their stamp is unknown)."""
    output = Path(output)
    return [output.with_name(f"{output.stem}.checkpoint.pt"), Path(f"{output}.resume"), Path(f"{output}.partial")]


def content_digest(value) -> bytes:
    """SHA-256 of what a value holds: arrays and tensors by bytes, dtype and shape; tables by their cells
    and column names; bytes as they are; sequences item by item."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        array = np.ascontiguousarray(value)
        return hashlib.sha256(f"{array.dtype}{array.shape}".encode() + array.tobytes()).digest()
    if isinstance(value, pd.DataFrame):
        cells = pd.util.hash_pandas_object(value, index=False).to_numpy().tobytes()
        return hashlib.sha256(json.dumps([str(column) for column in value.columns]).encode() + cells).digest()
    if isinstance(value, bytes | bytearray):
        return hashlib.sha256(value).digest()
    if isinstance(value, list | tuple):
        return hashlib.sha256(b"".join(content_digest(item) for item in value)).digest()
    raise TypeError(f"no content digest for {type(value).__name__}")


def fingerprint(settings: Mapping, inputs: Mapping[str, object], code: Iterable[ModuleType]) -> dict[str, str]:
    """The three parts a resume file must match: settings (JSON), inputs (by content), code (module sources)."""
    inputs_digest = hashlib.sha256()
    for name in sorted(inputs):
        inputs_digest.update(name.encode() + content_digest(inputs[name]))
    code_digest = hashlib.sha256(b"".join(Path(module.__file__).read_bytes() for module in code))
    return {
        "settings": hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest(),
        "inputs": inputs_digest.hexdigest(),
        "code": code_digest.hexdigest(),
    }


class Resume:
    """The resume file of the run that writes ``output``, for the run whose fingerprint is ``stamp``."""

    def __init__(self, output: str | os.PathLike, stamp: dict[str, str]):
        self.path = resume_path(output)
        self.stamp = stamp
        for legacy in legacy_resume_paths(output):
            if legacy.exists():
                log.info("removing %s: partial state of an older version of melanoflow, not resumable", legacy)
                legacy.unlink()

    def load(self) -> dict | None:
        """The saved state when the file exists and matches; otherwise None, with the reason logged."""
        if not self.path.exists():
            return None
        try:
            saved = torch.load(self.path, map_location="cpu", weights_only=False)  # our own file: RNG states too
        except Exception as error:  # a damaged file is a reason to start over, not to stop
            log.warning("starting over: %s cannot be read (%s)", self.path, error)
            return None
        if not isinstance(saved, dict) or not isinstance(saved.get("fingerprint"), dict) or "state" not in saved:
            log.info("starting over: %s was written by an older version of melanoflow", self.path)
            return None
        changed = [part for part, digest in self.stamp.items() if saved["fingerprint"].get(part) != digest]
        if changed:
            log.info("starting over: %s was written with other %s", self.path, " and ".join(changed))
            return None
        log.info("resuming from %s", self.path)
        return saved["state"]

    def save(self, state: dict) -> None:
        save_checkpoint(self.path, {"fingerprint": self.stamp, "state": state})

    def finish(self) -> None:
        self.path.unlink(missing_ok=True)
