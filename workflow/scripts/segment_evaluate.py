"""Snakemake adapter: score the predicted masks against every available ground truth."""

from melanoflow.runtime import setup_logging
from melanoflow.segmentation.metrics import evaluate_segmentation

setup_logging(snakemake.log[0])
evaluate_segmentation(
    snakemake.input.manifest,
    snakemake.input.masks,
    snakemake.output.metrics,
    snakemake.output.per_image,
    snakemake.output.figure,
)
