"""Snakemake adapter: build one variant's training manifest and its class-count figure."""

from melanoflow.classification.manifests import build_variant_manifest
from melanoflow.classification.settings import ManifestSettings
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
variant = snakemake.wildcards.variant
build_variant_manifest(
    snakemake.input.images,
    snakemake.output.manifest,
    snakemake.output.counts,
    snakemake.output.examples,
    ManifestSettings.from_config(**snakemake.params.settings, variant=variant),
    variant,
    snakemake.input.get("occlusions"),
    snakemake.input.get("synthetic", []),
)
