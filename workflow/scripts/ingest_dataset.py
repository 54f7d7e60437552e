"""Snakemake adapter: ingest one configured dataset (its images, masks, rows and splits)."""

from pathlib import Path

from melanoflow.ingest.build import write_dataset
from melanoflow.ingest.settings import IngestSettings
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
write_dataset(
    snakemake.wildcards.dataset,
    snakemake.params.dataset,
    snakemake.params.classes,
    IngestSettings.from_config(snakemake.params.settings),
    snakemake.params.seed,
    images_dir=Path(snakemake.output.images).parent,  # the images land in <images_dir>/<dataset>/
    table_path=snakemake.output.table,
    quarantine_path=snakemake.output.quarantine,
    sources_path=snakemake.output.sources,
    threads=snakemake.threads,
)
