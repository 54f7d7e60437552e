"""Snakemake adapter: build one variant's training manifest and its class-count figure."""

from melanoflow.classification.manifests import build_variant_manifest
from melanoflow.runtime import setup_logging

setup_logging(snakemake.log[0])
build_variant_manifest(
    snakemake.input.images,
    snakemake.output.manifest,
    snakemake.output.counts,
    snakemake.output.examples,
    snakemake.params.settings,
    snakemake.wildcards.variant,
    snakemake.input.get("occlusions"),
    snakemake.input.get("synthetic", []),
)
