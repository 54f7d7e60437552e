"""Snakemake adapter: train the lesion segmenter on the manifest's training images with ground truth."""

from melanoflow.runtime import setup_logging
from melanoflow.segmentation.settings import TrainSettings
from melanoflow.segmentation.train import fit

setup_logging(snakemake.log[0])
fit(
    snakemake.input.manifest,
    TrainSettings.from_config(**snakemake.params.settings),
    snakemake.output.model,
    snakemake.output.history,
    threads=snakemake.threads,
)
