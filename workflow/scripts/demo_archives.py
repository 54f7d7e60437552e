"""Snakemake adapter: write the demo archives."""

from pathlib import Path

from melanoflow.demo.generate import generate_demo
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
generate_demo(
    snakemake.params.demo,
    snakemake.params.classes,
    snakemake.params.seed,
    out_dir=Path(snakemake.output.archives[0]).parent,
    occlusion_dir=snakemake.output.occlusions,
)
