"""Snakemake adapter: write lesion masks for the images of one shard of the manifest."""

from melanoflow.runtime import setup_logging
from melanoflow.segmentation.predict import predict_shard
from melanoflow.segmentation.settings import PredictSettings

setup_logging(snakemake.log[0])
predict_shard(
    snakemake.input.manifest,
    snakemake.input.model,
    int(snakemake.wildcards.shard),
    snakemake.params.shards,
    PredictSettings.from_config(snakemake.params.settings),
    snakemake.params.device,
    snakemake.output.masks,
    snakemake.output.table,
    threads=snakemake.threads,
)
