"""Snakemake adapter: class probabilities for the test split (on purified test images when given occlusions)."""

from melanoflow.classification.predict import predict_variant
from melanoflow.classification.settings import PredictSettings
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
predict_variant(
    snakemake.input.manifest,
    snakemake.input.cache,
    snakemake.input.index,
    snakemake.input.model,
    snakemake.output[0],
    PredictSettings.from_config(snakemake.params.settings),
    snakemake.params.device,
    snakemake.input.get("occlusions"),
    threads=snakemake.threads,
    masks_path=snakemake.input.get("masks"),
)
