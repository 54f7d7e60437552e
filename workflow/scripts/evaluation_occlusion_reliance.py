"""Snakemake adapter: how much of each classifier's VisualBackProp saliency lies on hairs and rulers."""

from melanoflow.evaluation.explain import write_occlusion_reliance
from melanoflow.evaluation.settings import VbpSettings
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
write_occlusion_reliance(
    dict(zip(snakemake.params.variants, snakemake.input.classifiers, strict=True)),
    snakemake.input.occlusions,
    snakemake.input.images,
    snakemake.output.figure,
    snakemake.output.table,
    VbpSettings.from_config(snakemake.params.vbp),
    masks=snakemake.input.get("masks"),
)
