"""Generated lesion images from a trained GAN checkpoint, written as PNGs with a table listing them."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import torch
from tqdm import tqdm

from melanoflow import fileio, runtime
from melanoflow.fileio import BadInputError
from melanoflow.synthesis.train import CHECKPOINT_FORMAT, build_models, epoch_generator
from melanoflow.tables import SAMPLES_SCHEMA, relative_to_workdir, write_table

log = logging.getLogger(__name__)

SAMPLING_STREAM = 3  # random stream of the sampling noise (training uses 0-2)
BATCH = 64


def load_generator(checkpoint_path: str | Path) -> tuple[torch.nn.Module, dict]:
    """The kept generator of a training checkpoint (the last epoch before any mode collapse), in eval mode."""
    state = runtime.load_checkpoint(checkpoint_path, weights_only=False)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise BadInputError(f"{checkpoint_path}: not a melanoflow GAN checkpoint")
    arch = state["architecture"]
    generator, _ = build_models(state["mode"], len(state["class_names"]), arch["resolution"], arch["latent_dim"],
                                arch["width"])
    generator.load_state_dict(state["best_generator"])
    return generator.eval(), state


def to_uint8_images(images: torch.Tensor) -> torch.Tensor:
    """Generator output in [-1, 1] (N, 3, H, W) -> uint8 (N, H, W, 3)."""
    return ((images.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1)


@torch.no_grad()
def generate(generator: torch.nn.Module, latent_dim: int, class_index: int, count: int, seed: int) -> torch.Tensor:
    """``count`` uint8 images (N, H, W, 3) of one class, from a seeded latent stream."""
    noise = epoch_generator(seed, class_index, SAMPLING_STREAM)
    batches = []
    for start in range(0, count, BATCH):
        n = min(BATCH, count - start)
        z = torch.randn(n, latent_dim, generator=noise)
        batches.append(to_uint8_images(generator(z, torch.full((n,), class_index))))
    return torch.cat(batches) if batches else torch.empty((0,), dtype=torch.uint8)


def sample_class(checkpoint: str, class_name: str, count: int, seed: int, raw_dir: str, table: str) -> None:
    """Workflow entry: write ``count`` generated images of ``class_name`` and the table listing them."""
    generator, state = load_generator(checkpoint)
    if class_name not in state["class_names"]:
        raise BadInputError(f"{checkpoint}: GAN was trained for {state['class_names']}, not {class_name!r}")
    runtime.seed_everything(seed)
    images = generate(generator, state["architecture"]["latent_dim"], state["class_names"].index(class_name),
                      count, seed)
    rows = []
    for index, image in enumerate(tqdm(images.numpy(), desc=f"writing {class_name}", mininterval=5)):
        synthetic_id = f"{class_name}_gan_{index:05d}"
        path = Path(raw_dir) / f"{synthetic_id}.png"
        fileio.write_image(path, image)
        rows.append({"synthetic_id": synthetic_id, "synthetic_path": relative_to_workdir(path), "label": class_name})
    Path(raw_dir).mkdir(parents=True, exist_ok=True)
    write_table(pd.DataFrame(rows, columns=SAMPLES_SCHEMA.names), table, SAMPLES_SCHEMA)
    log.info("wrote %d %s images to %s", len(rows), class_name, raw_dir)
