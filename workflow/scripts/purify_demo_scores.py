"""Snakemake adapter: score the occlusion masks against the demo's drawn hairs and rulers."""

from melanoflow.purification.scoring import score_demo_occlusions
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
score_demo_occlusions(snakemake.input.table, snakemake.input.truth, snakemake.output[0], snakemake.params.method)
