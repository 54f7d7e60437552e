"""Snakemake adapter: MSE histogram, gallery and GAN training curves of one class."""

from melanoflow.runtime import setup_logging
from melanoflow.synthesis.figures import draw_figures
from melanoflow.synthesis.settings import FigureSettings

setup_logging(snakemake.log[0])
draw_figures(
    snakemake.input.nearest,
    snakemake.input.model,
    snakemake.wildcards.cls,
    FigureSettings.from_config(snakemake.params.figures),
    snakemake.params.mse_threshold,
    snakemake.params.resolution,
    histogram=snakemake.output.histogram,
    gallery_path=snakemake.output.gallery,
    curves=snakemake.output.curves,
)
