"""Snakemake adapter: draw a variant's training-set counts."""

from melanoflow.classification.figures import draw_counts
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
draw_counts(snakemake.input.counts, snakemake.output[0], snakemake.wildcards.variant)
