"""Snakemake adapter: rulers, patches and ink pasted onto clean test images, and how predictions move."""

from melanoflow.evaluation.counterfactual import write_counterfactual_insertion
from melanoflow.evaluation.settings import AucSettings, InsertionSettings
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
write_counterfactual_insertion(
    snakemake.input.settings,
    snakemake.input.images,
    snakemake.output.table,
    snakemake.output.figure,
    AucSettings.from_config(**snakemake.params.settings),
    InsertionSettings.from_config(snakemake.params.counterfactual),
    flag_files=dict(zip(snakemake.params.flag_datasets, snakemake.input.get("flags", []), strict=True)),
    occlusions=snakemake.input.get("occlusions"),
    select_threshold=snakemake.params.select_threshold,
)
