"""Snakemake adapter: ingest every configured dataset into the image manifest."""

from melanoflow.ingest.build import ingest
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
ingest(
    snakemake.params.datasets,
    snakemake.params.classes,
    snakemake.params.settings,
    snakemake.params.seed,
    images_dir=snakemake.output.images,
    manifest_path=snakemake.output.manifest,
    quarantine_path=snakemake.output.quarantine,
    splits_path=snakemake.output.splits,
    threads=snakemake.threads,
)
