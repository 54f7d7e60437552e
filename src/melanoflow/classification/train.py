"""Classifier training (paper Section 4.1 and its reference code's settings).

SGD (lr 1e-3, momentum 0.9) with the learning rate divided by 10 every 30 epochs, batches of 50, random
224 crops + vertical flips, ImageNet normalisation, seed 200. The checkpoint kept is the one with the
lowest validation loss; every epoch's metrics go to a CSV.

For training from scratch on small data (no ImageNet weights offline) the settings also offer AdamW,
warm-up with cosine decay, label smoothing, class-balanced sampling, and a fixed number of examples per
epoch, so that variants whose training sets differ in size get the same amount of training.

Resuming (:mod:`melanoflow.resume`): after every epoch the full training state (model, optimizer,
scheduler, best weights, history, RNG states) is saved to the resume file, stamped with the settings, the
manifest rows and cached pixels trained on, and this stage's code. A rerun with the same stamp continues
from the last finished epoch and ends with the same weights as an uninterrupted run: data order and
online augmentation depend only on (seed, epoch, row), never on how many epochs ran in this process.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import math
import os
import sys
import time
from dataclasses import asdict

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score
from torch import nn
from tqdm import tqdm

from melanoflow import fileio
from melanoflow.classification.cache import ImageCache, open_cache
from melanoflow.classification.data import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    ManifestImages,
    epoch_order,
    make_loader,
    to_model_input,
)
from melanoflow.classification.model import build_classifier, classifier_metadata, save_classifier
from melanoflow.classification.settings import TrainJobSettings, TrainSettings
from melanoflow.resume import Resume, fingerprint
from melanoflow.runtime import (
    autocast,
    restore_rng_state,
    rng_state,
    seed_everything,
    select_device,
)
from melanoflow.tables import read_training_manifest

log = logging.getLogger(__name__)


def make_optimizer(model: nn.Module, settings: TrainSettings) -> torch.optim.Optimizer:
    if settings.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=settings.lr, momentum=settings.momentum,
                           weight_decay=settings.weight_decay)


def make_scheduler(optimizer: torch.optim.Optimizer, settings: TrainSettings):
    """Per-epoch learning-rate schedule: optional linear warm-up, then step or cosine decay."""
    warmup = min(settings.warmup_epochs, max(settings.epochs - 1, 0))
    if settings.schedule == "cosine":
        main = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(settings.epochs - warmup, 1))
    else:
        main = torch.optim.lr_scheduler.StepLR(optimizer, settings.lr_step_epochs, settings.lr_gamma)
    if warmup == 0:
        return main
    ramp = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=warmup)
    return torch.optim.lr_scheduler.SequentialLR(optimizer, [ramp, main], milestones=[warmup])


def train_one_epoch(model: nn.Module, loader, optimizer, device: torch.device, scaler, progress: str,
                    label_smoothing: float = 0.0) -> dict[str, float]:
    model.train()
    loss_fn = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    total_loss, correct, seen = 0.0, 0, 0
    for images, targets in tqdm(loader, desc=progress, mininterval=10, leave=False):
        inputs = to_model_input(images, device)
        targets = targets.to(device, non_blocking=True)
        with autocast(device):
            logits = model(inputs)
        loss = loss_fn(logits.float(), targets)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        total_loss += loss.item() * len(targets)
        correct += int((logits.argmax(1) == targets).sum())
        seen += len(targets)
    return {"train_loss": total_loss / seen, "train_accuracy": correct / seen}


@torch.inference_mode()
def evaluate(model: nn.Module, loader, device: torch.device) -> dict[str, float]:
    """Validation loss, accuracy and mean one-vs-rest AUC (over the classes with positives and negatives)."""
    model.eval()
    all_logits, all_targets = [], []
    for images, targets in loader:
        with autocast(device):
            all_logits.append(model(to_model_input(images, device)).float().cpu())
        all_targets.append(targets)
    logits, targets = torch.cat(all_logits), torch.cat(all_targets)
    probabilities, truth = torch.softmax(logits, 1).numpy(), targets.numpy()
    aucs = [roc_auc_score(truth == index, probabilities[:, index]) for index in range(logits.shape[1])
            if 0 < (truth == index).sum() < len(truth)]
    return {"val_loss": nn.functional.cross_entropy(logits, targets).item(),
            "val_accuracy": float((logits.argmax(1) == targets).float().mean()),
            "val_mean_auc": float(np.mean(aucs)) if aucs else math.nan}


def selection_score(record: dict, selection: str) -> float:
    """Higher is better: how ``selection`` ranks an epoch's history record."""
    if selection == "last":
        return record["epoch"]
    if selection == "val_auc":
        return record["val_mean_auc"]
    return -record["val_loss"]


def run_fingerprint(manifest: pd.DataFrame, cache: ImageCache, settings: TrainSettings, classes: list[str],
                    seed: int) -> dict[str, str]:  # fmt: skip
    """What a resumed run must share with the interrupted one: the settings (not the loader's worker count),
    the manifest's rows and the cached pixels they point at, and the modules that define training."""
    from melanoflow.classification import cache as cache_module
    from melanoflow.classification import data as data_module
    from melanoflow.classification import model as model_module

    settings_part = {key: value for key, value in asdict(settings).items() if key != "loader_workers"}
    pixels = hashlib.sha256()
    for slot in np.unique(cache.slots_of(manifest["source_path"].tolist())):  # one image at a time: no copy
        pixels.update(cache.pixels[slot].tobytes())
    return fingerprint({"settings": settings_part, "classes": classes, "seed": seed},
                       {"manifest": manifest, "pixels": pixels.digest()},
                       [sys.modules[__name__], cache_module, data_module, model_module])  # fmt: skip


def fit(manifest: pd.DataFrame, cache: ImageCache, settings: TrainSettings, classes: list[str], seed: int,
        model_path: str | os.PathLike, history_path: str | os.PathLike, device: torch.device | None = None,
        stop_after_epoch: int | None = None, lesion_crop: float | None = None, color_constancy: str = "none"
        ) -> pd.DataFrame:
    """Train on the manifest's train rows, select on its val rows; write the best classifier and history.

    ``stop_after_epoch`` ends the training after that epoch as an interruption would (resume file kept,
    no outputs written); tests use it to check that resuming gives the uninterrupted result.
    ``lesion_crop`` (the margin the cache cropped lesions with, or None) and ``color_constancy`` (the colour
    correction the cache applied) are recorded in the classifier for whoever prepares images for it later.
    """
    device = device or torch.device("cpu")
    train_rows = manifest.loc[manifest["split"] == "train"]
    val_rows = manifest.loc[manifest["split"] == "val"]
    if train_rows.empty or val_rows.empty:
        raise ValueError(f"training needs train and val rows; the manifest has {len(train_rows)} / {len(val_rows)}")
    train_set = ManifestImages(train_rows, cache, classes, settings.input_size, train=True,
                               augment=settings.augment)
    val_loader = make_loader(ManifestImages(val_rows, cache, classes, settings.input_size, train=False),
                             settings.batch_size, workers=settings.loader_workers)

    seed_everything(seed)
    model = build_classifier(settings.arch, len(classes), settings.weights)
    model = model.to(device, memory_format=torch.channels_last)
    optimizer = make_optimizer(model, settings)
    scheduler = make_scheduler(optimizer, settings)
    fp16 = device.type == "cuda" and not torch.cuda.is_bf16_supported()
    scaler = torch.amp.GradScaler(device.type, enabled=fp16)  # loss scaling only for fp16 AMP
    state = {"epoch": 0, "best_score": -math.inf, "best_epoch": -1,
             "best_model": copy.deepcopy(model.state_dict()), "history": []}
    resume = Resume(model_path, run_fingerprint(manifest, cache, settings, classes, seed))
    saved = resume.load()
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        scaler.load_state_dict(saved["scaler"])
        restore_rng_state(saved["rng"])
        state = {key: saved[key] for key in state}
        log.info("continuing after epoch %d", state["epoch"])

    log.info("training %s on %d examples (%d val) on %s, %s", settings.arch, len(train_rows), len(val_rows),
             device, settings)
    for epoch in range(state["epoch"], settings.epochs):
        started = time.perf_counter()
        train_set.epoch = epoch
        order = epoch_order(len(train_set), seed, epoch, settings.epoch_size,
                            train_set.targets if settings.sampling == "balanced" else None)
        loader = make_loader(train_set, settings.batch_size, order, settings.loader_workers)
        record = {"epoch": epoch + 1, "lr": optimizer.param_groups[0]["lr"]}
        record |= train_one_epoch(model, loader, optimizer, device, scaler, f"epoch {epoch + 1}/{settings.epochs}",
                                  settings.label_smoothing)
        record |= evaluate(model, val_loader, device)
        scheduler.step()
        record["seconds"] = time.perf_counter() - started
        record["train_images_per_s"] = len(order) / record["seconds"]
        log.info("epoch %d: %s", epoch + 1, {k: round(v, 4) for k, v in record.items()})
        state["history"].append(record)
        if selection_score(record, settings.selection) > state["best_score"]:
            state |= {"best_score": selection_score(record, settings.selection), "best_epoch": epoch + 1,
                      "best_model": copy.deepcopy(model.state_dict())}
        state["epoch"] = epoch + 1
        resume.save({**state, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(), "rng": rng_state()})
        if stop_after_epoch is not None and epoch + 1 >= stop_after_epoch:
            return pd.DataFrame(state["history"])

    model.load_state_dict(state["best_model"])
    meta = classifier_metadata(settings.arch, classes, settings.input_size, cache.size, IMAGENET_MEAN,
                               IMAGENET_STD, settings.weights)
    best = state["history"][state["best_epoch"] - 1]
    save_classifier(model_path, model, {**meta, "epoch": state["best_epoch"], "selection": settings.selection,
                                        "val_loss": best["val_loss"], "val_mean_auc": best["val_mean_auc"],
                                        "lesion_crop": lesion_crop, "color_constancy": color_constancy})
    history = pd.DataFrame(state["history"])
    with fileio.atomic_path(history_path) as tmp:
        history.to_csv(tmp, index=False)
    resume.finish()
    log.info("kept epoch %d by %s (val loss %.4f, val mean AUC %.4f) -> %s", state["best_epoch"],
             settings.selection, best["val_loss"], best["val_mean_auc"], model_path)
    return history


def train_variant(manifest_path: str, cache_path: str, index_path: str, model_path: str, history_path: str,
                  settings: TrainJobSettings, threads: int = 1) -> None:
    """Workflow entry point: train one variant's classifier from its manifest and image cache."""
    torch.set_num_threads(threads)
    fit(read_training_manifest(manifest_path), open_cache(cache_path, index_path), settings.training,
        list(settings.classes), settings.seed, model_path, history_path, select_device(settings.device),
        lesion_crop=settings.lesion_crop, color_constancy=settings.color_constancy)
