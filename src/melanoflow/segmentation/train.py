"""Training of the segmenter: binary cross-entropy (the paper's loss, optionally plus a soft Jaccard term),
Adam at a constant or cosine-decayed learning rate, validation Jaccard each epoch, best weights kept.

Resuming (:mod:`melanoflow.resume`): the full state (model, optimizer, epoch, every RNG state, history,
best weights) is saved after each epoch, stamped with the settings, the training and validation pixels
and masks, and the code; a rerun with the same stamp continues and ends with the same weights as an
uninterrupted run.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import sys
import time
from dataclasses import asdict

import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from melanoflow.fileio import write_text
from melanoflow.resume import Resume, fingerprint
from melanoflow.runtime import (
    autocast,
    restore_rng_state,
    rng_state,
    save_checkpoint,
    seed_everything,
    select_device,
)
from melanoflow.segmentation import data as data_module
from melanoflow.segmentation import metrics as metrics_module
from melanoflow.segmentation import model as model_module
from melanoflow.segmentation.data import LesionDataset
from melanoflow.segmentation.metrics import batch_jaccard
from melanoflow.segmentation.model import DilatedUNet, SegmenterSpec
from melanoflow.segmentation.settings import TrainSettings
from melanoflow.tables import read_images_manifest

log = logging.getLogger(__name__)

HISTORY_COLUMNS = ["epoch", "train_loss", "val_jaccard", "seconds"]


class SegmentationLoss(nn.Module):
    """Binary cross-entropy, plus (``with_jaccard``) one minus the soft Jaccard index of each image, the
    metric ISIC 2017 ranks by, which weighs a small lesion's pixels as much as a large one's."""

    def __init__(self, with_jaccard: bool):
        super().__init__()
        self.with_jaccard = with_jaccard
        self.bce = nn.BCEWithLogitsLoss()

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        loss = self.bce(logits, targets)
        if self.with_jaccard:
            probabilities = torch.sigmoid(logits).flatten(1)
            truth = targets.flatten(1)
            overlap = (probabilities * truth).sum(1)
            union = probabilities.sum(1) + truth.sum(1) - overlap
            loss = loss + (1 - (overlap + 1) / (union + 1)).mean()
        return loss


def epoch_learning_rate(settings: TrainSettings, epoch: int) -> float:
    """The learning rate of 1-based ``epoch``: constant, or cosine-decayed from the configured rate."""
    if settings.schedule == "constant":
        return settings.learning_rate
    return settings.learning_rate * 0.5 * (1 + math.cos(math.pi * (epoch - 1) / settings.epochs))


def train_one_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                    device: torch.device, mixed_precision: bool, loss_fn: nn.Module) -> float:  # fmt: skip
    """One pass over ``loader``; returns the mean loss per image."""
    model.train()
    total, images = 0.0, 0
    for inputs, targets in tqdm(loader, desc="training", leave=False):
        inputs = inputs.to(device).contiguous(memory_format=torch.channels_last)
        loss = train_step(model, inputs, targets.to(device), optimizer, loss_fn, device, mixed_precision)
        total += loss.item() * len(inputs)
        images += len(inputs)
    return total / images


def train_step(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor, optimizer: torch.optim.Optimizer,
               loss_fn: nn.Module, device: torch.device, mixed_precision: bool) -> torch.Tensor:  # fmt: skip
    """One optimisation step (the loss in fp32 even under autocast); returns the detached loss."""
    with autocast(device, enabled=mixed_precision):
        logits = model(inputs)
    loss = loss_fn(logits.float(), targets)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach()


@torch.no_grad()
def evaluate(model: DilatedUNet, loader: DataLoader, device: torch.device, mixed_precision: bool,
             threshold: float = 0.5) -> float:  # fmt: skip
    """Mean per-image Jaccard at the network's resolution."""
    model.eval()
    scores = []
    for inputs, targets in loader:
        inputs = inputs.to(device).contiguous(memory_format=torch.channels_last)
        with autocast(device, enabled=mixed_precision):
            probabilities = model.predict_proba(inputs)
        scores.extend(batch_jaccard(targets.to(device) > 0.5, probabilities > threshold))
    return float(sum(scores) / len(scores))


def run_fingerprint(settings: TrainSettings, train_set: LesionDataset,
                    val_set: LesionDataset) -> dict[str, str]:  # fmt: skip
    """What a resumed run must share with the interrupted one: the settings but the device (and the epoch
    count, unless a cosine schedule makes it set every epoch's rate), the images and masks it trains and
    validates on, and the code that defines the network, its inputs and the training loop."""
    resumable = {"device"} | ({"epochs"} if settings.schedule == "constant" else set())
    kept = {key: value for key, value in asdict(settings).items() if key not in resumable}
    data = {"train_images": train_set.images, "train_masks": train_set.masks, "val_images": val_set.images,
            "val_masks": val_set.masks}  # fmt: skip
    return fingerprint(kept, data, [model_module, data_module, metrics_module, sys.modules[__name__]])


def write_history(path: str | os.PathLike, history: list[dict]) -> None:
    write_text(path, pd.DataFrame(history, columns=HISTORY_COLUMNS).to_csv(index=False))


def train_segmenter(train_rows: pd.DataFrame, val_rows: pd.DataFrame, settings: TrainSettings,
                    model_path: str | os.PathLike, history_path: str | os.PathLike) -> dict:  # fmt: skip
    """Train on ``train_rows``, select the epoch by Jaccard on ``val_rows``; both need ground-truth masks.

    Writes the best weights (with their spec) to ``model_path`` and the per-epoch history as CSV;
    returns the best epoch's history row.
    """
    device = select_device(settings.device)
    generator = seed_everything(settings.seed)
    spec = SegmenterSpec(input_size=settings.input_size, width=settings.width)
    model = DilatedUNet(spec).to(device).to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate, betas=settings.betas)
    train_set = LesionDataset(train_rows, spec.input_size, settings.augment, desc="training images")
    val_set = LesionDataset(val_rows, spec.input_size, desc="validation images")
    train_loader = DataLoader(train_set, batch_size=settings.batch_size, shuffle=True, generator=generator)
    val_loader = DataLoader(val_set, batch_size=settings.batch_size)

    resume = Resume(model_path, run_fingerprint(settings, train_set, val_set))
    state = {"epoch": 0, "history": [], "best_jaccard": -1.0, "best_model": None}
    saved = resume.load()
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        restore_rng_state(saved["rng"])
        generator.set_state(saved["loader_rng"])
        state = {key: saved[key] for key in state}
        log.info("continuing after epoch %d", state["epoch"])
    log.info("training %s on %s: %d training / %d validation images, %d epochs", spec, device,
             len(train_set), len(val_set), settings.epochs)  # fmt: skip

    loss_fn = SegmentationLoss(with_jaccard=settings.loss == "bce_jaccard")
    for epoch in range(state["epoch"] + 1, settings.epochs + 1):
        start = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = epoch_learning_rate(settings, epoch)
        loss = train_one_epoch(model, train_loader, optimizer, device, settings.mixed_precision, loss_fn)
        jaccard = evaluate(model, val_loader, device, settings.mixed_precision, settings.threshold)
        row = {"epoch": epoch, "train_loss": loss, "val_jaccard": jaccard, "seconds": time.perf_counter() - start}
        state["history"].append(row)
        if jaccard > state["best_jaccard"]:
            state["best_jaccard"] = jaccard
            state["best_model"] = copy.deepcopy(model.state_dict())
        state["epoch"] = epoch
        log.info("epoch %d: learning rate %.2g, loss %.4f, validation Jaccard %.4f (best %.4f), %.1f s",
                 epoch, epoch_learning_rate(settings, epoch), loss, jaccard, state["best_jaccard"],
                 row["seconds"])  # fmt: skip
        resume.save({**state, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "rng": rng_state(), "loader_rng": generator.get_state()})
        write_history(history_path, state["history"])

    if state["best_model"] is None:
        raise ValueError(f"epochs is {settings.epochs}: train for at least one epoch")
    write_history(history_path, state["history"])
    best = max(state["history"], key=lambda row: row["val_jaccard"])
    save_checkpoint(model_path, {"spec": asdict(spec), "model": state["best_model"], **best})
    resume.finish()
    log.info("kept epoch %d (validation Jaccard %.4f) in %s", best["epoch"], best["val_jaccard"], model_path)
    return best


def fit(manifest_path: str | os.PathLike, settings: TrainSettings, model_path: str | os.PathLike,
        history_path: str | os.PathLike, threads: int | None = None) -> dict:  # fmt: skip
    """Train the segmenter on the manifest's training images with ground truth, validated on its val split."""
    if threads:
        torch.set_num_threads(threads)
    manifest = read_images_manifest(manifest_path)
    with_truth = manifest.loc[manifest["mask_path"].notna()]
    return train_segmenter(
        with_truth.loc[with_truth["split"] == "train"], with_truth.loc[with_truth["split"] == "val"],
        settings, model_path, history_path,
    )  # fmt: skip
