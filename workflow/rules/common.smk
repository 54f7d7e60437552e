# Config validation, input functions and target lists. No rules here.
from pathlib import Path

from snakemake.utils import validate

validate(config, "../schemas/config.schema.yaml")

RESULTS = "results"
SHARDS = list(range(config["shards"]))
CLASSES = config["classes"]
DEMO_DIR = config["demo"]["path"] if config["demo"]["enabled"] else None


def demo_archive_files():
    """The files the demo generator writes: the official ISIC 2017 triples, per split."""
    from melanoflow.demo.generate import archive_file_names

    return [f"{DEMO_DIR}/{name}" for name in archive_file_names(config["demo"])]


def dataset_input_files(wildcards=None):
    """Every dataset's archive files, as rule inputs: generated ones for the demo, else what is on disk."""
    files = []
    for name, dataset in config["datasets"].items():
        folder = Path(dataset["path"])
        if DEMO_DIR is not None and folder == Path(DEMO_DIR):
            files += demo_archive_files()
        elif folder.exists():
            files += sorted(
                str(p) for p in folder.iterdir() if not p.name.startswith(".")
            )
        else:
            raise WorkflowError(f"dataset {name!r}: folder {folder} does not exist")
    return sorted(set(files))


def stage_params(section):
    """A stage's own config section (plus the global seed), so changing one stage reruns only it and what follows."""
    return {"seed": config["seed"], "classes": CLASSES, **config[section]}


# --- targets per stage: each stage adds its own function and lists it in all_targets() ---


def ingest_targets():
    return [f"{RESULTS}/manifests/images.parquet"]


def all_targets():
    return ingest_targets()
