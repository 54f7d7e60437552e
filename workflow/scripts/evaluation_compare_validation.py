"""Snakemake adapter: the paired comparison of all variants on the validation split (tables only)."""

from melanoflow.evaluation.report import compare_variants
from melanoflow.evaluation.settings import ComparisonSettings
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
compare_variants(
    dict(zip(snakemake.params.variants, snakemake.input.predictions, strict=True)),
    None,
    dict(zip(snakemake.params.variants, snakemake.input.classifiers, strict=True)),
    dict(snakemake.output.items()),
    ComparisonSettings.from_config(**snakemake.params.settings),
    split="val",
)
