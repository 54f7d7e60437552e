"""Snakemake adapter: each classifier's AUC drop from the untrapped to the reversed test split of a trap run."""

from melanoflow.evaluation.settings import TrapDropSettings
from melanoflow.evaluation.trap import write_trap_report
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
write_trap_report(
    dict(zip(snakemake.params.prediction_sets, snakemake.input.predictions, strict=True)),
    snakemake.input.images,
    dict(zip(snakemake.params.traps, snakemake.input.flags, strict=True)),
    snakemake.params.traps,
    TrapDropSettings.from_config(**snakemake.params.settings),
    {name: snakemake.output[name] for name in ("drops", "association", "summary", "figure")},
)
