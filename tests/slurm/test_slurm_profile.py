"""profiles/slurm against a real single-node SLURM cluster started on localhost for the test.

The cluster (tests/slurm/cluster.py) installs Debian's slurm-wlm pieces and munge when they are missing,
so the test needs root and apt; it skips, saying why, without them.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from melanoflow import gpuslots

from .cluster import ClusterUnavailable, LocalSlurmCluster, install_packages

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
TINY_CONFIGS = [str(REPO / "config" / "demo.yaml"), str(REPO / "tests" / "e2e" / "tiny.yaml")]
# The data part of the tiny demo DAG: generated archives -> ingest (every image and mask extracted). The
# model stages take minutes even at tiny size, too long to run twice (locally and through SLURM) in CI.
TARGETS = ["results/manifests/images.parquet"]
# A cluster poll every 5 s instead of 40 s; `sacct` needs slurmdbd, which this cluster does without.
TEST_SLURM_OPTIONS = ["--slurm-init-seconds-before-status-checks", "5", "--slurm-status-command", "squeue"]
DAG_SECONDS = 240


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
    slurm_cluster, tmp_path
):
    # The SLURM run mostly waits for the cluster's polls: run the local reference run meanwhile.
    slurm_run = start_snakemake(
        tmp_path / "slurm", slurm_cluster.env, "--profile", str(REPO / "profiles" / "slurm"),
        "--slurm-keep-successful-logs", *TEST_SLURM_OPTIONS,
    )  # fmt: skip
    local_run = start_snakemake(
        tmp_path / "local", dict(os.environ), "--profile", str(REPO / "profiles" / "default")
    )
    assert "Nothing to be done" not in finished(slurm_run)
    finished(local_run)

    # Every job went through SLURM, finished there, and got the resources profiles/slurm gives its rule.
    jobs = {
        record["Comment"].removeprefix("rule_"): record
        for record in job_records(slurm_cluster, tmp_path / "slurm")
    }
    assert sorted(jobs) == ["demo_archives", "ingest"]
    assert {job["JobState"] for job in jobs.values()} == {"COMPLETED"}
    assert {
        name: (job["Partition"], job["TimeLimit"], job["MinMemoryNode"]) for name, job in jobs.items()
    } == {
        "demo_archives": ("cpu", "00:30:00", "4000M"),  # default-resources
        "ingest": ("cpu", "01:00:00", "8000M"),  # set-resources
    }
    assert jobs["ingest"]["NumCPUs"] == "2"  # the rule's threads
    slurm_logs = sorted(
        path.parent.name for path in (tmp_path / "slurm" / ".snakemake" / "slurm_logs").rglob("*.log")
    )
    assert slurm_logs == ["rule_demo_archives", "rule_ingest"]

    # The same targets run locally gave the same files.
    slurm_files, local_files = produced_files(tmp_path / "slurm"), produced_files(tmp_path / "local")
    assert sorted(slurm_files) == sorted(local_files)
    assert len(slurm_files) > 100  # the manifest and every extracted image and mask
    for name, path in slurm_files.items():
        if path.suffix == ".parquet":
            pd.testing.assert_frame_equal(pd.read_parquet(path), pd.read_parquet(local_files[name]))
        else:
            assert path.read_bytes() == local_files[name].read_bytes(), name


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
