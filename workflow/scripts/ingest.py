"""Snakemake adapter: merge the datasets' tables into the image manifest, quarantine and split summary."""

from melanoflow.ingest.build import merge_dataset_files
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
merge_dataset_files(
    snakemake.input.tables,
    snakemake.input.quarantines,
    snakemake.input.sources,
    manifest_path=snakemake.output.manifest,
    quarantine_path=snakemake.output.quarantine,
    splits_path=snakemake.output.splits,
)
