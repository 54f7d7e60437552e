"""Snakemake adapter: merge the per-shard mask tables into results/segmentation/masks.parquet."""

from melanoflow.manifest import merge_shard_tables
from melanoflow.runtime import setup_logging
from melanoflow.segmentation.predict import MASKS_SCHEMA

setup_logging(snakemake.log[0])
merge_shard_tables(snakemake.input.shards, snakemake.output[0], MASKS_SCHEMA)
