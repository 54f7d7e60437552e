"""profiles/slurm against a real single-node SLURM cluster started on localhost for the test.

The cluster (tests/slurm/cluster.py) installs Debian's slurm-wlm pieces and munge when they are missing,
so the test needs root and apt; it skips, saying why, without them.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from melanoflow import gpuslots
from tests.tiny_run import assert_same_tables_and_weights

from .cluster import ClusterUnavailable, LocalSlurmCluster, install_packages

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
TINY_CONFIGS = [str(REPO / "config" / "demo.yaml"), str(REPO / "tests" / "e2e" / "tiny.yaml")]
# The whole tiny demo DAG (every rule of every stage), through SLURM and, for reference, locally.
TARGETS: list[str] = []
PROFILE = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
# Outputs compared byte for byte with the local run: everything the data stages make, then every table
# and model (tiny_run.assert_same_tables_and_weights); logs, benchmarks, the durations in training
# histories and figures are not compared.
EXACT_PREFIXES = ("results/manifests/images.parquet", "results/manifests/quarantine.parquet", "results/images/")
# A cluster poll every 5 s instead of 40 s; `sacct` needs slurmdbd, which this cluster does without.
TEST_SLURM_OPTIONS = ["--slurm-init-seconds-before-status-checks", "5", "--slurm-status-command", "squeue"]
DAG_SECONDS = 1500


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("a local SLURM cluster needs root (its daemons run as root)")
    root = tmp_path_factory.mktemp("slurm_cluster")
    try:
        install_packages(root / "apt.log")
    except ClusterUnavailable as reason:
        pytest.skip(f"no local SLURM cluster: {reason}")
    with LocalSlurmCluster(root) as cluster:
        yield cluster


def start_snakemake(workdir: Path, env: dict, *args: str) -> subprocess.Popen:
    command = ["timeout", "-k", "10", str(DAG_SECONDS), SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(workdir),
               "--configfile", *TINY_CONFIGS, "--cores", "2", *args, *TARGETS]  # fmt: skip
    return subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env | {"OMP_NUM_THREADS": "1"},
    )


def finished(run: subprocess.Popen) -> str:
    output = run.communicate()[0]
    assert run.returncode == 0, f"{' '.join(run.args)} failed ({run.returncode}):\n{output[-6000:]}"
    return output


def job_records(cluster: LocalSlurmCluster, workdir: Path) -> list[dict[str, str]]:
    """The jobs run from ``workdir`` the cluster finished, as ``scontrol show job`` fields.

    The cluster's job-completion log proves that a job ran; SLURM keeps its details for MinJobAge seconds.
    """
    job_ids = re.findall(r"^JobId=(\d+) ", cluster.jobcomp_log.read_text(), flags=re.MULTILINE)
    records = []
    for job_id in job_ids:
        shown = cluster.run(["scontrol", "show", "job", "--oneliner", job_id]).stdout
        records.append(dict(re.findall(r"(\w+)=(\S*)", shown)))
    return [record for record in records if record["WorkDir"] == str(workdir)]


def produced_files(workdir: Path) -> dict[str, Path]:
    """The run's outputs by relative path, without logs and benchmarks (they hold times and hosts)."""
    files = {}
    for path in (workdir / "results").rglob("*"):
        relative = path.relative_to(workdir)
        if path.is_file() and relative.parts[1] not in ("logs", "benchmarks"):
            files[str(relative)] = path
    return files


def test_tiny_dag_runs_through_slurm_with_the_profiles_resources_and_matches_a_local_run(
    slurm_cluster, tiny_run, tmp_path
):
    slurm_run = start_snakemake(
        tmp_path / "slurm", slurm_cluster.env, "--profile", str(REPO / "profiles" / "slurm"),
        "--slurm-keep-successful-logs", *TEST_SLURM_OPTIONS,
    )  # fmt: skip
    # What a clean local run would do, from a dry run while the SLURM run waits for the cluster's polls.
    planned = start_snakemake(tmp_path / "planned", dict(os.environ), "--profile", str(REPO / "profiles" / "default"),
                              "-n")  # fmt: skip
    assert "Nothing to be done" not in finished(slurm_run)
    planned_output = finished(planned)

    # Every job went through SLURM, finished there, and got the resources profiles/slurm gives its rule.
    records = job_records(slurm_cluster, tmp_path / "slurm")
    assert {record["JobState"] for record in records} == {"COMPLETED"}
    jobs_per_rule: dict[str, int] = {}
    for record in records:
        rule = record["Comment"].removeprefix("rule_").split("_wildcards_")[0]
        jobs_per_rule[rule] = jobs_per_rule.get(rule, 0) + 1
        assert resources_of(record) == expected_resources(rule), rule
        if PROFILE["set-resources"].get(rule, {}).get("gpu"):
            assert "gres/gpu=1" in record.get("TRES", "") or "gpu:1" in record.get("TresPerJob", ""), rule
    assert jobs_per_rule == planned_jobs_per_rule(planned_output)
    assert jobs_per_rule["ingest_dataset"] == 1 and jobs_per_rule["ingest"] == 1  # one dataset, one merge
    assert jobs_per_rule["segment_predict"] == 2  # one job per shard

    # The same DAG run locally (the session's tiny run, with the default profile) made the same files...
    slurm_files, local_files = produced_files(tmp_path / "slurm"), produced_files(tiny_run)
    assert sorted(slurm_files) == sorted(local_files)
    exact = [name for name in slurm_files if name.startswith(EXACT_PREFIXES)]
    assert len(exact) > 100  # the manifest and every extracted image and mask
    for name in exact:
        assert slurm_files[name].read_bytes() == local_files[name].read_bytes(), name
    assert (tmp_path / "slurm" / "results" / "reports" / "comparison.md").is_file()
    # ...and, two clean runs on the CPU, the same tables to the byte and the same weights.
    assert_same_tables_and_weights(tiny_run, tmp_path / "slurm")


def resources_of(record: dict[str, str]) -> tuple[str, str, str]:
    return record["Partition"], record["TimeLimit"], record["MinMemoryNode"]


def expected_resources(rule: str) -> tuple[str, str, str]:
    """Partition, time limit and memory that profiles/slurm asks for ``rule`` (set-resources over defaults)."""
    resources = PROFILE["default-resources"] | PROFILE["set-resources"].get(rule, {})
    hours, minutes = divmod(int(resources["runtime"]), 60)
    return resources["slurm_partition"], f"{hours:02d}:{minutes:02d}:00", f"{resources['mem_mb']}M"


def planned_jobs_per_rule(output: str) -> dict[str, int]:
    """Jobs per rule from a run's 'Job stats' table (the target rule `all` runs no job on SLURM)."""
    table = output.split("Job stats:", 1)[1].split("total", 1)[0]
    counts = dict(re.findall(r"^(\w+)\s+(\d+)\s*$", table, flags=re.MULTILINE))
    return {rule: int(count) for rule, count in counts.items() if rule not in ("all", "job", "count")}


def test_gpu_jobs_get_distinct_gpus_from_slurm_and_keep_them_in_gpuslots(slurm_cluster, tmp_path):
    """Two concurrent --gpus=1 jobs on the two-GPU node: SLURM picks each one's GPU, gpuslots keeps it."""
    report = (
        "from melanoflow import gpuslots; import time; "
        "device = gpuslots.acquire_device(device_count=2, timeout=30); "
        "print('device', device, flush=True); time.sleep(3)"
    )
    job_ids = [
        slurm_cluster.run(
            ["sbatch", "--parsable", "--partition=gpu", "--gpus=1", f"--chdir={tmp_path}", f"--output=job{index}.out",
             f"--export=ALL,{gpuslots.LOCK_DIR_ENV}={tmp_path}/locks",
             f"--wrap={sys.executable} -c \"{report}\""],
        ).stdout.strip()
        for index in range(2)
    ]  # fmt: skip
    slurm_cluster.wait_for(
        lambda: not slurm_cluster.run(["squeue", "-h", "-j", ",".join(job_ids)], check=False).stdout.strip(),
        "the GPU jobs to finish",
        60,
    )
    devices = sorted((tmp_path / f"job{index}.out").read_text().split()[-1] for index in range(2))
    assert devices == ["0", "1"]
    records = {record["JobId"]: record for record in job_records(slurm_cluster, tmp_path)}
    assert [records[job_id]["JobState"] for job_id in job_ids] == ["COMPLETED", "COMPLETED"]
