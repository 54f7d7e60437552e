"""Snakemake adapter: MSE histogram, gallery and GAN training curves of one class."""

from melanoflow.runtime import setup_logging
from melanoflow.synthesis.figures import draw_figures

setup_logging(snakemake.log[0])
draw_figures(
    snakemake.input.nearest,
    snakemake.input.model,
    snakemake.wildcards.cls,
    snakemake.params.settings,
    histogram=snakemake.output.histogram,
    gallery_path=snakemake.output.gallery,
    curves=snakemake.output.curves,
)
