"""Snakemake adapter: VisualBackProp of one classifier's TP / FP / FN / TN test cases per class."""

from melanoflow.evaluation.explain import write_case_figure
from melanoflow.evaluation.settings import VbpSettings
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
write_case_figure(
    snakemake.input.classifier,
    snakemake.input.predictions,
    snakemake.input.images,
    snakemake.output.figure,
    snakemake.params.classes,
    VbpSettings.from_config(snakemake.params.vbp),
    snakemake.wildcards.variant,
    masks=snakemake.input.get("masks"),
)
