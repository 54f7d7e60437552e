"""Snakemake adapter: merge the per-shard purification tables into results/purified/occlusions.parquet."""

from melanoflow.runtime import setup_logging
from melanoflow.tables import OCCLUSIONS_SCHEMA, merge_shard_tables

setup_logging(snakemake.log[0])
merge_shard_tables(list(snakemake.input.shards), snakemake.output[0], OCCLUSIONS_SCHEMA)
