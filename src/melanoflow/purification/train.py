"""Training the purification network on (original, purified by method improved) pairs plus random masks.

Each example is a random ``image_size`` square crop of a training-split image at the image's own
resolution (with a random flip): the network later fills holes in whole images at their own resolution,
so hairs must be as many pixels wide in training as there. Images smaller than a crop are enlarged.
Its holes are the improved method's occlusion mask plus random strokes (the paper's "random masking"),
so the network learns to fill both hairs and arbitrary gaps; the target is the image the improved method
purified. Optimisation follows the paper: Adam (betas 0.5, 0.99) at ``adam_lr`` for ``adam_steps``, then
SGD with momentum 0.9 at ``sgd_lr`` for ``sgd_steps``. The state is saved every ``checkpoint_every`` steps
through :mod:`melanoflow.resume` (stamped with the settings, the training images and lesion masks by
content, and the code), so an interrupted run continues exactly.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from tqdm import tqdm

from melanoflow.config_checks import check_section_keys
from melanoflow.fileio import read_image
from melanoflow.purification.classic import purify_classic
from melanoflow.purification.network import InpaintingLoss, load_vgg16_features, to_tensor
from melanoflow.purification.partialconv import PConvUNet, PConvUNetSpec
from melanoflow.purification.run import LESION_MASK_COLUMNS, read_lesion, with_lesion_masks
from melanoflow.purification.settings import ClassicSettings
from melanoflow.resume import Resume, fingerprint
from melanoflow.runtime import (
    autocast,
    restore_rng_state,
    rng_state,
    save_checkpoint,
    seed_everything,
    select_device,
)
from melanoflow.tables import read_columns, read_images_manifest

log = logging.getLogger(__name__)

LOG_EVERY = 10
# Settings that may differ between an interrupted run and its resumption.
RESUMABLE_CHANGES = ("checkpoint_every", "device")


@dataclass(frozen=True)
class NetworkSettings:
    """``purification.network`` of the config (config/config.yaml describes each key), with what its
    training also reads: the improved method's settings (whose purified images are the targets), where it
    trains and the run's seed."""

    base_channels: int
    depth: int
    image_size: int
    batch_size: int
    adam_steps: int
    sgd_steps: int
    adam_lr: float
    sgd_lr: float
    random_strokes: int
    loss_weights: Mapping[str, float]
    vgg16_weights: str | None
    checkpoint_every: int
    improved: ClassicSettings
    device: str
    seed: int

    @classmethod
    def from_config(cls, network: Mapping, *, improved: Mapping, device: str, seed: int) -> NetworkSettings:
        """The settings of the ``purification.network`` and ``purification.improved`` sections,
        ``purification.device`` and the run's ``seed``; a missing or unknown key of the network section is
        an error naming it."""
        check_section_keys(network, {field.name for field in fields(cls)} - {"improved", "device", "seed"},
                           "purification.network")
        return cls(**network, improved=ClassicSettings.from_config(improved), device=device, seed=seed)


def random_strokes(rng: np.random.Generator, size: int, count: int) -> np.ndarray:
    """``count`` random thick polyline strokes (bool, size x size): the random part of the holes."""
    canvas = np.zeros((size, size), np.uint8)
    for _ in range(count):
        points = rng.uniform(0, size, (int(rng.integers(2, 5)), 2)).round().astype(np.int32)
        cv2.polylines(canvas, [points], False, 1, max(1, int(rng.integers(1, max(2, size // 16)))))
    return canvas.astype(bool)


class PurificationPairs(Dataset):
    """(input image with holes, valid mask, target purified by method improved) crops of the training images.

    Items are addressed by ``(image index, training step, slot in the batch)`` so that every random choice
    is a function of the step: a resumed run draws exactly the batches the uninterrupted one would have.
    """

    def __init__(self, rows, classic: ClassicSettings, size: int, strokes: int, seed: int):
        self.rows = rows.reset_index(drop=True)
        self.classic = classic
        self.size = size
        self.strokes = strokes
        self.seed = seed

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: tuple[int, int, int]):
        index, step, slot = key
        rng = np.random.default_rng((self.seed, step, slot))
        row = self.rows.iloc[index]
        image = read_image(row.image_path)
        purified = purify_classic(image, read_lesion(row.lesion_mask_path, image.shape[:2]), self.classic)
        height, width = image.shape[:2]
        stack = np.dstack([image, purified.image, purified.occlusion.astype(np.uint8) * 255])
        if min(height, width) < self.size:
            factor = self.size / min(height, width)
            shape = (max(self.size, round(width * factor)), max(self.size, round(height * factor)))
            stack = cv2.resize(stack, shape, interpolation=cv2.INTER_LINEAR)
        top = int(rng.integers(0, stack.shape[0] - self.size + 1))
        left = int(rng.integers(0, stack.shape[1] - self.size + 1))
        stack = stack[top : top + self.size, left : left + self.size]
        if rng.random() < 0.5:
            stack = stack[:, ::-1]
        holes = (stack[..., 6] > 127) | random_strokes(rng, self.size, self.strokes)
        valid = torch.from_numpy(~holes).float()[None]
        return to_tensor(np.ascontiguousarray(stack[..., :3])) * valid, valid, to_tensor(
            np.ascontiguousarray(stack[..., 3:6]))


class StepBatches(Sampler):
    """Batches for steps ``start``, ``start + 1``, ...: a fresh seeded shuffle of the images every pass."""

    def __init__(self, images: int, batch_size: int, seed: int, start: int, stop: int):
        self.images, self.batch_size, self.seed, self.start, self.stop = images, batch_size, seed, start, stop
        self.per_pass = images // batch_size

    def __len__(self) -> int:
        return self.stop - self.start

    def __iter__(self):
        for step in range(self.start, self.stop):
            passes, position = divmod(step, self.per_pass)
            order = np.random.default_rng((self.seed, passes)).permutation(self.images)
            chosen = order[position * self.batch_size : (position + 1) * self.batch_size]
            yield [(int(index), step, slot) for slot, index in enumerate(chosen)]


def phases(model: PConvUNet, settings: NetworkSettings):
    """The paper's two optimisers, in order, with their step counts."""
    return [
        ("adam", settings.adam_steps, lambda: torch.optim.Adam(model.parameters(), lr=settings.adam_lr,
                                                              betas=(0.5, 0.99))),
        ("sgd", settings.sgd_steps, lambda: torch.optim.SGD(model.parameters(), lr=settings.sgd_lr,
                                                            momentum=0.9)),
    ]


def run_fingerprint(rows: pd.DataFrame, settings: NetworkSettings) -> dict[str, str]:
    """What a resumed run must share with the interrupted one: the settings that shape it (all but
    RESUMABLE_CHANGES), the training images and their lesion masks by content, and the code."""
    from melanoflow.purification import classic, network, partialconv, run

    kept = {key: value for key, value in asdict(settings).items() if key not in RESUMABLE_CHANGES}
    files = [hashlib.sha256(Path(path).read_bytes()).digest()
             for path in (*rows["image_path"], *rows["lesion_mask_path"])]  # fmt: skip
    return fingerprint(kept, {"files": files}, [sys.modules[__name__], classic, network, partialconv, run])


def train_network(manifest_path: str | os.PathLike, masks_path: str | os.PathLike, settings: NetworkSettings,
                  out_path: str | os.PathLike) -> list[dict]:
    """Fit the partial-conv U-Net; write ``{"spec", "model", "history"}`` to ``out_path``; return the history."""
    seed_everything(settings.seed)
    device = select_device(settings.device)
    manifest = read_images_manifest(manifest_path)
    rows = with_lesion_masks(manifest.loc[manifest["split"] == "train"], read_columns(masks_path, LESION_MASK_COLUMNS),
                             str(masks_path))
    dataset = PurificationPairs(rows, settings.improved, settings.image_size, settings.random_strokes,
                                settings.seed)
    if len(dataset) < settings.batch_size:
        raise ValueError(f"{manifest_path}: {len(dataset)} training images, fewer than one batch of "
                         f"{settings.batch_size}")
    spec = PConvUNetSpec(base_channels=settings.base_channels, depth=settings.depth)
    model = PConvUNet(spec).to(device).to(memory_format=torch.channels_last)
    criterion = InpaintingLoss(settings.loss_weights, load_vgg16_features(settings.vgg16_weights)).to(device)
    resume = Resume(out_path, run_fingerprint(rows, settings))
    history, start = [], 0
    resumed = resume.load()
    if resumed is not None:
        model.load_state_dict(resumed["model"])
        history, start = resumed["history"], resumed["step"]
        restore_rng_state(resumed["rng"])
        log.info("continuing at step %d", start)
    model.train()
    phase_start = 0
    for name, steps, make_optimizer in phases(model, settings):
        phase_stop = phase_start + steps
        if start < phase_stop:
            optimizer = make_optimizer()
            if resumed is not None and resumed["phase"] == name:
                optimizer.load_state_dict(resumed["optimizer"])
            first = max(start, phase_start)
            loader = DataLoader(dataset, batch_sampler=StepBatches(len(dataset), settings.batch_size,
                                                                   settings.seed, first, phase_stop))
            for step, batch in enumerate(tqdm(loader, desc=f"purification network ({name})", mininterval=5),
                                         start=first):
                image, valid, target = (tensor.to(device) for tensor in batch)
                with autocast(device):
                    output, _ = model(image.contiguous(memory_format=torch.channels_last), valid)
                terms = criterion(output.float(), target, valid)
                optimizer.zero_grad(set_to_none=True)
                terms["total"].backward()
                optimizer.step()
                history.append({"phase": name, "step": step, **{k: float(v.detach()) for k, v in terms.items()}})
                if step % LOG_EVERY == 0:
                    log.info("%s step %d: %s", name, step, {k: round(v, 4) for k, v in history[-1].items()
                                                            if k not in ("phase", "step")})
                if (step + 1) % settings.checkpoint_every == 0:
                    resume.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "phase": name,
                                 "step": step + 1, "history": history, "rng": rng_state()})
        phase_start = phase_stop
    save_checkpoint(out_path, {"spec": asdict(spec), "model": model.state_dict(), "history": history})
    resume.finish()
    return history
