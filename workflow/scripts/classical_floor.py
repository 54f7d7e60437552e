"""Snakemake adapter: the classical floor (logistic regression on lesion features) and its predictions."""

from melanoflow.classification.floor import predict_floor
from melanoflow.classification.settings import FloorSettings
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
predict_floor(
    snakemake.input.images,
    snakemake.input.masks,
    snakemake.output.predictions,
    snakemake.output.model,
    FloorSettings.from_config(**snakemake.params.settings),
    threads=snakemake.threads,
)
