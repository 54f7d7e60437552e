"""Snakemake adapter: write the configured number of generated images of one class."""

from melanoflow.runtime import setup_logging
from melanoflow.synthesis.sample import sample_class

setup_logging(snakemake.log[0])
sample_class(
    snakemake.input.model,
    snakemake.wildcards.cls,
    snakemake.params.samples,
    snakemake.params.seed,
    raw_dir=snakemake.output.raw,
    table=snakemake.output.table,
)
