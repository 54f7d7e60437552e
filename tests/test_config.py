"""Config files validate against the schema; unknown or mistyped keys are errors naming the key."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from melanoflow.config_checks import ConfigError, check_config, config_problems
from melanoflow.config_files import load_config, merge

from .conftest import REPO

SCHEMA = str(REPO / "workflow" / "schemas" / "config.schema.yaml")


DEFAULT = REPO / "config" / "config.yaml"


def load(name):
    """A shipped config as the workflow sees it: config.yaml itself, or overlays (``a.yaml+b.yaml``) laid over it."""
    return load_config([] if name == "config.yaml" else [REPO / "config" / part for part in name.split("+")], DEFAULT)


SHIPPED = ["config.yaml", "demo.yaml", "isic2017-cpu.yaml", "isic2018-cpu.yaml", "isic2017-cpu.yaml+isic2017-trap.yaml",
           "isic2017-cpu.yaml+isic2017-bf16.yaml", "isic2017-cpu.yaml+isic2017-bf16.yaml+isic2017-ham.yaml"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_configs_validate(name):
    validate(load(name), SCHEMA)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_configs_agree_across_sections(name):
    assert config_problems(load(name)) == []


def test_cross_section_mistakes_are_each_named_by_key():
    config = copy.deepcopy(load("demo.yaml"))
    config["evaluation"]["proposed"] = "propsed"
    config["evaluation"]["melanoma_class"] = "MEL"
    config["classification"]["variants"]["proposed"]["flip_targets"]["bcc"] = 10
    config["datasets"]["demo"]["labels"]["melanoma"] = "melanom"

    problems = config_problems(config)

    assert problems == [
        "evaluation.proposed: 'propsed' is not a variant in classification.variants (known: baseline, proposed)",
        "evaluation.melanoma_class: 'MEL' is not one of classes (known: melanoma, nevus, seborrheic_keratosis)",
        "classification.variants.proposed.flip_targets: 'bcc' is not one of classes "
        "(known: melanoma, nevus, seborrheic_keratosis)",
        "datasets.demo.labels: 'melanom' is not one of classes (known: melanoma, nevus, seborrheic_keratosis)",
    ]
    with pytest.raises(ConfigError, match="4 setting"):
        check_config(config)


def test_the_workflow_refuses_a_cross_section_mistake_before_any_job(tmp_path):
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"evaluation": {"proposed": "propsed"}}))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "snakemake"), "-s", str(REPO / "Snakefile"), "-d", str(tmp_path),
         "--configfile", str(REPO / "config" / "demo.yaml"), str(tmp_path / "bad.yaml"), "--cores", "1", "-n"],
        capture_output=True, text=True, timeout=300)  # fmt: skip
    assert result.returncode != 0
    assert "evaluation.proposed: 'propsed' is not a variant" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


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


def test_an_overlay_replaces_named_collections_and_merges_settings():
    default = {"datasets": {"isic2017": {"path": "a"}, "ph2": {"path": "b"}}, "shards": 8,
               "segmentation": {"epochs": 50, "width": 1.0},
               "classification": {"epochs": 30, "variants": {"baseline": {"factor": 1}, "proposed": {"factor": 6}}},
               "synthesis": {"samples": {"melanoma": 350, "seborrheic_keratosis": 750}, "mode": "decoupled"}}
    overlay = {"datasets": {"demo": {"path": "c"}}, "segmentation": {"epochs": 4},
               "classification": {"variants": {"proposed": {"factor": 2}}}, "synthesis": {"samples": {"melanoma": 60}}}

    merged = merge(default, overlay)

    assert merged == {"datasets": {"demo": {"path": "c"}}, "shards": 8, "segmentation": {"epochs": 4, "width": 1.0},
                      "classification": {"epochs": 30, "variants": {"proposed": {"factor": 2}}},
                      "synthesis": {"samples": {"melanoma": 60}, "mode": "decoupled"}}
    assert default["segmentation"]["epochs"] == 50  # the default is not modified


def test_a_later_overlay_drops_named_things_with_null(tmp_path):
    (tmp_path / "first.yaml").write_text("datasets: {a: {path: x}, b: {path: y}}\n"
                                         "classification: {variants: {baseline: {factor: 1}, proposed: {factor: 2}}}\n")
    (tmp_path / "second.yaml").write_text("datasets: {a: {split: trap}, b: null}\n"
                                          "classification: {variants: {baseline: null}}\nevaluation: {keratosis_class: null}\n")
    (tmp_path / "default.yaml").write_text("datasets: {c: {path: z}}\nevaluation: {keratosis_class: k}\n"
                                           "classification: {epochs: 3, variants: {other: {factor: 6}}}\n")

    config = load_config([tmp_path / "first.yaml", tmp_path / "second.yaml"], tmp_path / "default.yaml")

    assert config == {"datasets": {"a": {"path": "x", "split": "trap"}},
                      "classification": {"epochs": 3, "variants": {"proposed": {"factor": 2}}},
                      "evaluation": {"keratosis_class": None}}  # null outside named collections is a value


def test_the_trap_overlay_changes_only_the_split_the_folder_and_the_variants():
    cpu, trap = load("isic2017-cpu.yaml"), load("isic2017-cpu.yaml+isic2017-trap.yaml")
    assert trap["results"] == "results/trap" and cpu["results"] == "results"
    assert list(trap["datasets"]) == ["isic2017"] and list(trap["classification"]["variants"]) == ["baseline", "proposed"]
    assert trap["datasets"]["isic2017"]["split"] == "trap"
    for section in ("segmentation", "purification", "synthesis"):
        assert trap[section] == cpu[section]
    assert {key: value for key, value in trap["classification"].items() if key != "variants"} == {
        key: value for key, value in cpu["classification"].items() if key != "variants"}


def test_trap_settings_must_go_with_a_trap_split():
    config = copy.deepcopy(load("isic2017-cpu.yaml+isic2017-trap.yaml"))
    config["datasets"]["isic2017"]["trap"]["class"] = "mel"
    config["datasets"]["ph2"] = {**load("isic2017-cpu.yaml")["datasets"]["ph2"],
                                 "trap": config["datasets"]["isic2017"]["trap"]}
    assert config_problems(config) == [
        "datasets.isic2017.trap.class: 'mel' is not one of classes (known: melanoma, nevus, seborrheic_keratosis)",
        "datasets.ph2.trap: set, but datasets.ph2.split is 'train', not trap",
    ]


@pytest.mark.parametrize(("name", "base"), [("demo.yaml", "config.yaml"), ("isic2017-cpu.yaml", "config.yaml"),
                                            ("isic2018-cpu.yaml", "config.yaml"),
                                            ("isic2017-trap.yaml", "isic2017-cpu.yaml"),
                                            ("isic2017-bf16.yaml", "isic2017-cpu.yaml"),
                                            ("isic2017-ham.yaml", "isic2017-cpu.yaml+isic2017-bf16.yaml")])
def test_shipped_overlays_hold_only_what_differs(name, base):
    overlay = yaml.safe_load((REPO / "config" / name).read_text())
    default = load(base)

    def repeated(changes, base, path=()):
        for key, value in changes.items():
            if path + (key,) in (("datasets",), ("classification", "variants"), ("synthesis", "samples")):
                continue
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                yield from repeated(value, base[key], path + (key,))
            elif base.get(key) == value:
                yield ".".join(path + (key,))

    assert list(repeated(overlay, default)) == []
    assert len((REPO / "config" / "demo.yaml").read_text().splitlines()) < 60

