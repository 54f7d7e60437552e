"""Snakemake adapter: the shards' predictions as one submission table and one index.html."""

from pathlib import Path

from melanoflow.predict.run import summarise
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
summarise(snakemake.input.shards, Path(snakemake.output.index).parent)
