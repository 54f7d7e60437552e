"""Snakemake adapter: ISIC metrics with bootstrap intervals for one predictions table."""

from melanoflow.evaluation.report import evaluate_variant
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
evaluate_variant(
    snakemake.input.predictions,
    snakemake.output.metrics,
    snakemake.params.settings,
    snakemake.wildcards.variant,
)
