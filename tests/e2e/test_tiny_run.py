"""The whole DAG on generated data: every stage's outputs exist, and a second run has nothing to do."""

from melanoflow.tables import read_images_manifest

from .conftest import snakemake


def test_manifest_covers_every_generated_image(tiny_run):
    manifest = read_images_manifest(tiny_run / "results" / "manifests" / "images.parquet")
    assert manifest.split.value_counts().to_dict() == {"train": 60, "test": 36, "val": 24}
    assert manifest.mask_path.notna().all()
    assert all((tiny_run / path).is_file() for path in manifest.image_path)


def test_rerun_has_nothing_to_do(tiny_run):
    result = snakemake(tiny_run, "--dry-run")
    assert "Nothing to be done" in result.stdout + result.stderr
