"""Snakemake adapter: paired comparison of all variants, the summary beside the paper, the report's front page,
ROC and confusion figures."""

from melanoflow.evaluation.report import compare_variants
from melanoflow.evaluation.settings import ComparisonSettings
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
compare_variants(
    dict(zip(snakemake.params.variants, snakemake.input.predictions, strict=True)),
    dict(zip(snakemake.params.variants, snakemake.input.metrics, strict=True)),
    dict(zip(snakemake.params.variants, snakemake.input.classifiers, strict=True)),
    dict(snakemake.output.items()),
    ComparisonSettings.from_config(**snakemake.params.settings),
    splits=snakemake.input.splits,
)
