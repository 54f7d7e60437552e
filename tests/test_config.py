"""Config files validate against the schema; unknown or mistyped keys are errors naming the key."""

import copy

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from .conftest import REPO

SCHEMA = str(REPO / "workflow" / "schemas" / "config.schema.yaml")


def load(name):
    return yaml.safe_load((REPO / "config" / name).read_text())


@pytest.mark.parametrize("name", ["config.yaml", "demo.yaml"])
def test_shipped_configs_validate(name):
    validate(load(name), SCHEMA)


def test_unknown_top_level_key_is_named():
    config = load("demo.yaml") | {"segmentaton": {}}
    with pytest.raises(WorkflowError, match="segmentaton"):
        validate(config, SCHEMA)


def test_mistyped_nested_value_is_named():
    config = copy.deepcopy(load("demo.yaml"))
    config["ingest"]["on_bad_image"] = "ignore"
    with pytest.raises(WorkflowError, match="ignore"):
        validate(config, SCHEMA)


def test_unknown_dataset_format_is_refused():
    config = copy.deepcopy(load("demo.yaml"))
    config["datasets"]["demo"]["format"] = "isic2016"
    with pytest.raises(WorkflowError, match="isic2016"):
        validate(config, SCHEMA)
