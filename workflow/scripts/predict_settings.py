"""Snakemake adapter: the run's prediction settings, for `melanoflow predict` and `snakemake predict`."""

from melanoflow.fileio import write_json
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
write_json(snakemake.output[0], snakemake.params.settings)
