"""Snakemake adapter: train the lesion segmenter on the manifest's training images with ground truth."""

from melanoflow.runtime import setup_logging
from melanoflow.segmentation.settings import TrainSettings
from melanoflow.segmentation.train import fit

setup_logging(snakemake.log[0])
params = snakemake.params.settings
# The segmentation section's training keys, with the seed and classes that every stage's settings carry.
section = {key: value for key, value in params.items() if key not in ("seed", "classes")}
fit(
    snakemake.input.manifest,
    TrainSettings.from_config(section, seed=params["seed"]),
    snakemake.output.model,
    snakemake.output.history,
    threads=snakemake.threads,
)
