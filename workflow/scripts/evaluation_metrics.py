"""Snakemake adapter: ISIC metrics with bootstrap intervals for one predictions table."""

from melanoflow.evaluation.report import evaluate_variant
from melanoflow.evaluation.settings import ScoringSettings
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
evaluate_variant(
    snakemake.input.predictions,
    snakemake.output.metrics,
    ScoringSettings.from_config(**snakemake.params.settings),
    snakemake.wildcards.variant,
)
