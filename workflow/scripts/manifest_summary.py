"""Snakemake adapter: plot the manifest's class counts."""

from melanoflow.ingest.summary import plot_manifest_summary
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
plot_manifest_summary(snakemake.input.manifest, snakemake.output.figure, snakemake.params.classes)
