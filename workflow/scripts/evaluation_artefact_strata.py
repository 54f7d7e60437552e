"""Snakemake adapter: melanoma and mean AUC with and without each artefact, and the shortcut floor."""

from melanoflow.evaluation.artefacts import write_artefact_strata
from melanoflow.evaluation.settings import AucSettings
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
write_artefact_strata(
    dict(zip(snakemake.params.prediction_sets, snakemake.input.predictions, strict=True)),
    snakemake.input.images,
    snakemake.output.table,
    snakemake.output.figure,
    AucSettings.from_config(**snakemake.params.settings),
    flag_files=dict(zip(snakemake.params.flag_datasets, snakemake.input.get("flags", []), strict=True)),
    occlusions=snakemake.input.get("occlusions"),
    select_threshold=snakemake.params.select_threshold,
)
