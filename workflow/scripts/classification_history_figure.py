"""Snakemake adapter: draw a classifier's training history."""

from melanoflow.classification.figures import draw_history
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
draw_history(snakemake.input.history, snakemake.output[0], snakemake.wildcards.variant,
             snakemake.params.arch, snakemake.params.weights)  # fmt: skip
