"""The profiles agree with the workflow: every rule they name exists, every CUDA rule gets a GPU on SLURM."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
SLURM_PROFILE = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
# Optional rules appear only with some settings: the network purifier, the demo's scores.
EVERY_OPTIONAL_RULE = {"purification": {"method": "network"}}


def rules_declaring_a_gpu() -> set[str]:
    """Rules whose `resources:` name `gpu` (declared only when the stage runs on CUDA)."""
    names = set()
    for path in (REPO / "workflow" / "rules").glob("*.smk"):
        blocks = re.split(r"^\s*rule (\w+):", path.read_text(), flags=re.MULTILINE)
        names |= {name for name, body in zip(blocks[1::2], blocks[2::2], strict=True) if "gpu=" in body}
    return names


@pytest.fixture(scope="module")
def workflow_rules(tmp_path_factory) -> set[str]:
    override = tmp_path_factory.mktemp("profiles") / "every_rule.yaml"
    override.write_text(yaml.safe_dump(EVERY_OPTIONAL_RULE))
    command = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(override.parent), "--configfile",
               str(REPO / "config" / "demo.yaml"), str(override), "--list-rules"]  # fmt: skip
    listed = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
    return set(listed.split())


def test_every_rule_the_slurm_profile_names_exists(workflow_rules):
    assert set(SLURM_PROFILE["set-resources"]) - workflow_rules == set()


def test_cuda_rules_get_one_gpu_on_the_gpu_partition_and_no_other_rule_does(workflow_rules):
    gpu_rules = rules_declaring_a_gpu()
    assert gpu_rules >= {"segment_train", "classification_train"}  # the parser finds them
    given_a_gpu = {name for name, resources in SLURM_PROFILE["set-resources"].items() if resources.get("gpu")}
    assert given_a_gpu == gpu_rules
    for name in given_a_gpu:
        assert (
            SLURM_PROFILE["set-resources"][name] | {"gpu": 1, "slurm_partition": "gpu"}
            == SLURM_PROFILE["set-resources"][name]
        )


def planned_gpu_resources(workdir: Path, device: str) -> dict[str, set[str]]:
    """rule -> the `gpu=` values its jobs declare in a dry run of the demo (every optional rule, the predict
    target too) with every stage's device set to ``device``."""
    devices = {
        "segmentation": {"device": device}, "purification": {"method": "network", "test_time": True, "device": device},
        "synthesis": {"device": device}, "classification": {"device": device},
        "evaluation": {"vbp": {"device": device}, "artefacts": {"counterfactual": {"device": device}}},
        "predict_device": device, "predict_input": str(workdir / "new_images"),
    }  # fmt: skip
    overlay = workdir / f"{device}.yaml"
    overlay.write_text(yaml.safe_dump(devices))
    (workdir / "new_images").mkdir(exist_ok=True)
    command = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(workdir), "--configfile",
               str(REPO / "config" / "demo.yaml"), str(overlay), "--cores", "1", "-n", "all", "predict"]  # fmt: skip
    planned = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout
    declared: dict[str, set[str]] = {}
    for name, body in re.findall(
        r"^(?:local)?rule (\w+):\n(.*?)(?=^\S|\Z)", planned, flags=re.MULTILINE | re.DOTALL
    ):
        declared.setdefault(name, set()).update(re.findall(r"\bgpu=(\d+)", body))
    return declared


def test_jobs_declare_a_gpu_exactly_when_their_stage_runs_on_cuda(tmp_path):
    on_cuda = planned_gpu_resources(tmp_path, "cuda")
    # predict_unscored runs only for archives with unlabelled parts, which the demo has not.
    assert {name for name, values in on_cuda.items() if values == {"1"}} == rules_declaring_a_gpu() - {
        "predict_unscored"
    }
    assert all(values <= {"0"} for name, values in on_cuda.items() if name not in rules_declaring_a_gpu())
    for device in ("cpu", "auto"):  # auto is not counted against --resources gpu (docs/scaling.md)
        assert all(values <= {"0"} for values in planned_gpu_resources(tmp_path, device).values())
