"""Adversarial training of the decoupled (one class) and coupled (several classes) DCGANs.

Paper recipe: binary cross-entropy, Adam lr 2e-4 betas (0.5, 0.999) for both networks, and two extra
generator rounds after every 10th joint round. Stabilisation after Salimans et al. (2016), both
configurable: one-sided label smoothing (real targets ``real_label`` < 1) and feature matching (the
generator also matches the discriminator's mean last-hidden-row features of real images).

Early stopping criterion: the diversity of a fixed latent batch (mean pairwise RMS pixel distance, in
[0, 1] units) divided by the same measure on real training images is logged every epoch; after
``warmup_epochs``, ``patience`` consecutive epochs with a ratio under ``min_diversity_ratio`` (mode
collapse) stop training, and the generator of the last epoch before the collapse is kept.

Resuming (:mod:`melanoflow.resume`): the state is saved every ``checkpoint_every`` epochs, stamped with
the settings, the training pixels and labels and the code; every random draw of an epoch comes from
generators seeded by (seed, epoch), so a resumed run continues bit for bit where the interrupted one
stopped. The epoch count, checkpoint interval and device are not part of the stamp.
"""

from __future__ import annotations

import copy
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from melanoflow import runtime
from melanoflow.resume import Resume, fingerprint, resume_path
from melanoflow.synthesis.coupled import CoupledDiscriminator, CoupledGenerator, balanced_batches
from melanoflow.synthesis.data import load_images, real_images, training_rows
from melanoflow.synthesis.dcgan import Discriminator, Generator
from melanoflow.synthesis.settings import GanSettings

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "melanoflow-gan-1"
# Settings that may differ between an interrupted run and its resumption.
RESUMABLE_CHANGES = ("epochs", "checkpoint_every", "device")


def build_models(mode: str, n_classes: int, resolution: int, latent_dim: int, width: float):
    if mode == "decoupled":
        if n_classes != 1:
            raise ValueError(f"a decoupled GAN is trained for one class, got {n_classes}")
        return Generator(resolution, latent_dim, width), Discriminator(resolution, width)
    if mode == "coupled":
        return (CoupledGenerator(n_classes, resolution, latent_dim, width),
                CoupledDiscriminator(n_classes, resolution, width))
    raise ValueError(f"unknown GAN mode {mode!r} (decoupled or coupled)")


def epoch_generator(seed: int, epoch: int, stream: int) -> torch.Generator:
    """An independent, reproducible random stream for one purpose (data order, noise) of one epoch."""
    generator = torch.Generator()
    generator.manual_seed(int(np.random.SeedSequence([seed, epoch, stream]).generate_state(1)[0]))
    return generator


def to_model_range(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] -> float [-1, 1], the generator's tanh range."""
    return images.float().div_(127.5).sub_(1.0)


def diversity(images: torch.Tensor) -> float:
    """Mean pairwise RMS distance of images in [-1, 1], expressed in [0, 1] pixel units."""
    flat = images.float().flatten(1)
    return float(torch.pdist(flat).mean() / flat.shape[1] ** 0.5 / 2)


class EarlyStopping:
    """Mode-collapse stop: ``patience`` epochs in a row under ``min_ratio`` after ``warmup`` epochs."""

    def __init__(self, min_ratio: float, patience: int, warmup: int):
        self.min_ratio, self.patience, self.warmup = min_ratio, patience, warmup
        self.collapsed_epochs = 0

    def healthy(self, epoch: int, ratio: float) -> bool:
        return epoch < self.warmup or ratio >= self.min_ratio

    def update(self, epoch: int, ratio: float) -> bool:
        """Record one epoch; True when training should stop."""
        self.collapsed_epochs = 0 if self.healthy(epoch, ratio) else self.collapsed_epochs + 1
        return self.collapsed_epochs >= self.patience


class GanTrainer:
    """Holds the two networks, their optimizers and the counters a checkpoint must restore."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, class_names: Sequence[str],
                 settings: GanSettings, device: torch.device):
        self.images, self.labels, self.class_names = images, labels, list(class_names)
        self.settings, self.device = settings, device
        runtime.seed_everything(settings.seed)
        # channels_last: oneDNN's native convolution layout on CPU (about 15 % faster here), same arithmetic
        models = build_models(settings.mode, len(class_names), settings.resolution, settings.latent_dim,
                              settings.width)
        self.generator, self.discriminator = (m.to(device, memory_format=torch.channels_last) for m in models)
        adam = {"lr": settings.learning_rate, "betas": settings.betas}
        self.opt_g = torch.optim.Adam(self.generator.parameters(), **adam)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), **adam)
        self.epoch, self.rounds, self.history = 0, 0, []
        self.best_generator, self.best_epoch = copy.deepcopy(self.generator.state_dict()), 0
        self.stopping = EarlyStopping(settings.min_diversity_ratio, settings.patience, settings.warmup_epochs)
        self.stopped_early = False
        fixed = epoch_generator(settings.seed, 0, 0)  # stream 0: the fixed diversity batch
        n = settings.diversity_batch
        self.fixed_z = torch.randn(n, settings.latent_dim, generator=fixed)
        self.fixed_labels = torch.arange(n) % len(class_names)
        real_pick = torch.randperm(len(images), generator=fixed)[:n]
        self.real_diversity = diversity(to_model_range(images[real_pick]))

    # --- one round -------------------------------------------------------------------------------------

    def _autocast(self):
        return runtime.autocast(self.device, enabled=self.settings.amp)

    def _discriminator_step(self, real: torch.Tensor, labels: torch.Tensor, noise: torch.Generator) -> dict:
        z = torch.randn(len(real), self.settings.latent_dim, generator=noise).to(self.device)
        with self._autocast():
            with torch.no_grad():
                fake = self.generator(z, labels)
            real_logits, _ = self.discriminator(real, labels)
            fake_logits, _ = self.discriminator(fake, labels)
        real_logits, fake_logits = real_logits.float(), fake_logits.float()
        loss = (F.binary_cross_entropy_with_logits(real_logits, torch.full_like(real_logits, self.settings.real_label))
                + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
        self.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_d.step()
        return {"d_loss": loss.item(), "d_real": torch.sigmoid(real_logits).mean().item(),
                "d_fake": torch.sigmoid(fake_logits).mean().item()}

    def _generator_step(self, real: torch.Tensor, labels: torch.Tensor, noise: torch.Generator) -> float:
        z = torch.randn(len(real), self.settings.latent_dim, generator=noise).to(self.device)
        with self._autocast():
            fake_logits, fake_features = self.discriminator(self.generator(z, labels), labels)
            if self.settings.feature_matching > 0:
                with torch.no_grad():
                    _, real_features = self.discriminator(real, labels)
        fake_logits = fake_logits.float()
        loss = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
        if self.settings.feature_matching > 0:
            matching = F.mse_loss(fake_features.float().mean(0), real_features.float().mean(0))
            loss = loss + self.settings.feature_matching * matching
        self.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_g.step()
        return loss.item()

    def train_one_epoch(self) -> dict:
        self.generator.train()
        self.discriminator.train()
        seed = self.settings.seed
        order, noise = epoch_generator(seed, self.epoch, 1), epoch_generator(seed, self.epoch, 2)
        totals: dict[str, float] = {}
        batches = list(balanced_batches(self.labels, self.settings.batch_size, order))
        for batch in batches:
            real = to_model_range(self.images[batch]).to(self.device)
            labels = self.labels[batch].to(self.device)
            stats = self._discriminator_step(real, labels, noise)
            stats["g_loss"] = self._generator_step(real, labels, noise)
            self.rounds += 1
            if self.rounds % self.settings.extra_generator_every == 0:
                for _ in range(self.settings.extra_generator_rounds):
                    self._generator_step(real, labels, noise)
            for key, value in stats.items():
                totals[key] = totals.get(key, 0.0) + value / len(batches)
        return totals

    @torch.no_grad()
    def measure_diversity(self) -> float:
        self.generator.eval()
        with self._autocast():
            images = self.generator(self.fixed_z.to(self.device), self.fixed_labels.to(self.device))
        return diversity(images)

    # --- epochs and checkpoints ------------------------------------------------------------------------

    def end_epoch(self, stats: dict) -> bool:
        """Log the epoch, update the early-stopping state; True when training should stop."""
        stats["epoch"] = self.epoch
        stats["diversity"] = self.measure_diversity()
        stats["diversity_ratio"] = stats["diversity"] / max(self.real_diversity, 1e-12)
        self.history.append(stats)
        log.info("epoch %d: %s", self.epoch, ", ".join(f"{k}={v:.4g}" for k, v in stats.items() if k != "epoch"))
        if self.stopping.healthy(self.epoch, stats["diversity_ratio"]):
            self.best_generator, self.best_epoch = copy.deepcopy(self.generator.state_dict()), self.epoch
        stop = self.stopping.update(self.epoch, stats["diversity_ratio"])
        self.epoch += 1
        if stop:
            log.warning("diversity ratio under %.3g for %d epochs: mode collapse, stopping and keeping epoch %d",
                        self.stopping.min_ratio, self.stopping.patience, self.best_epoch)
            self.stopped_early = True
        return stop

    def state(self) -> dict:
        return {
            "format": CHECKPOINT_FORMAT,
            "mode": self.settings.mode,
            "class_names": self.class_names,
            "architecture": {"resolution": self.settings.resolution, "latent_dim": self.settings.latent_dim,
                             "width": self.settings.width},
            "settings": asdict(self.settings),
            "generator": self.generator.state_dict(),
            "discriminator": self.discriminator.state_dict(),
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "epoch": self.epoch,
            "rounds": self.rounds,
            "history": self.history,
            "best_generator": self.best_generator,
            "best_epoch": self.best_epoch,
            "collapsed_epochs": self.stopping.collapsed_epochs,
            "stopped_early": self.stopped_early,
            "real_diversity": self.real_diversity,
            "rng": runtime.rng_state(),
        }

    def load_state(self, state: dict) -> None:
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.epoch, self.rounds, self.history = state["epoch"], state["rounds"], state["history"]
        self.best_generator, self.best_epoch = state["best_generator"], state["best_epoch"]
        self.stopping.collapsed_epochs = state["collapsed_epochs"]
        self.stopped_early = state["stopped_early"]
        runtime.restore_rng_state(state["rng"])


def run_fingerprint(images: torch.Tensor, labels: torch.Tensor, class_names: Sequence[str],
                    settings: GanSettings) -> dict[str, str]:  # fmt: skip
    """What a resumed run must share with the interrupted one (all settings but RESUMABLE_CHANGES)."""
    from melanoflow.synthesis import coupled, dcgan

    kept = {key: value for key, value in asdict(settings).items() if key not in RESUMABLE_CHANGES}
    return fingerprint({"settings": kept, "classes": list(class_names)}, {"images": images, "labels": labels},
                       [sys.modules[__name__], coupled, dcgan])  # fmt: skip


def fit(images: torch.Tensor, labels: torch.Tensor, class_names: Sequence[str], settings: GanSettings,
        output: str | os.PathLike | None = None, device: torch.device | None = None) -> dict:
    """Train on uint8 images (N, 3, r, r) with class indices; return the final checkpoint state.

    With ``output`` (where the caller will save the model), the run resumes from and saves to that
    output's resume file every ``checkpoint_every`` epochs; the caller removes it once the model is saved.
    """
    device = device or runtime.select_device(settings.device)
    trainer = GanTrainer(images, labels, class_names, settings, device)
    resume = Resume(output, run_fingerprint(images, labels, class_names, settings)) if output else None
    saved = resume.load() if resume else None
    if saved is not None:
        trainer.load_state(saved)
        log.info("continuing at epoch %d", trainer.epoch)
    progress = tqdm(total=settings.epochs, initial=trainer.epoch, desc="GAN epochs", mininterval=5)
    while trainer.epoch < settings.epochs and not trainer.stopped_early:
        stop = trainer.end_epoch(trainer.train_one_epoch())
        progress.update(1)
        if resume and (stop or trainer.epoch % settings.checkpoint_every == 0):
            resume.save(trainer.state())
    progress.close()
    return trainer.state()


def train_gan(manifest: str, purified: str | None, class_names: Sequence[str], settings: GanSettings,
              output: str, threads: int = 1) -> None:
    """Workflow entry: fit a GAN on the training-split images of ``class_names``, save it to ``output``.

    ``purified`` (the purification table, or None) substitutes purified training images.
    """
    torch.set_num_threads(max(1, threads))
    rows = training_rows(real_images(manifest, purified), class_names)
    log.info("training a %s GAN on %d training images of %s", settings.mode, len(rows), list(class_names))
    images = load_images(rows["path"].tolist(), settings.resolution, threads, desc="training images")
    labels = torch.as_tensor(rows["label"].map({name: i for i, name in enumerate(class_names)}).to_numpy())
    state = fit(images, labels, class_names, settings, output=output)
    runtime.save_checkpoint(output, state)
    resume_path(output).unlink(missing_ok=True)
