"""Snakemake adapter: merge the per-shard mask tables into results/segmentation/masks.parquet."""

from melanoflow.runtime import setup_logging
from melanoflow.tables import MASKS_SCHEMA, merge_shard_tables

setup_logging(snakemake.log[0])
merge_shard_tables(snakemake.input.shards, snakemake.output[0], MASKS_SCHEMA)
