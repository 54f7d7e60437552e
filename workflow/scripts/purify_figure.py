"""Snakemake adapter: before/after figure of the most occluded images (paper Figure 3)."""

from melanoflow.purification.figures import before_after_figure
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
before_after_figure(snakemake.input.manifest, snakemake.input.table, snakemake.output[0], snakemake.params.images)
