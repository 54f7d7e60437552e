"""Snakemake adapter: nearest real image of every generated one; keep all but near-copies and leaks."""

from melanoflow.runtime import setup_logging
from melanoflow.synthesis.dedup import deduplicate
from melanoflow.synthesis.settings import DedupSettings

setup_logging(snakemake.log[0])
deduplicate(
    snakemake.input.samples,
    snakemake.input.manifest,
    snakemake.input.get("purified"),
    DedupSettings.from_config(snakemake.params.dedup),
    snakemake.params.resolution,
    table=snakemake.output.table,
    kept_dir=snakemake.output.kept,
    summary=snakemake.output.summary,
    threads=snakemake.threads,
)
