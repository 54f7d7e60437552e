"""A workflow killed inside a training job (SIGKILL to the whole process group, as a node failure or an
out-of-time cluster job would) and run again with the default profile ends with the weights of an
uninterrupted run, having continued from the resume file."""

import os
import shutil
import signal
import subprocess
import time

import torch
import yaml

from melanoflow.resume import resume_path

from .conftest import REPO, SNAKEMAKE, TINY_CONFIGS, snakemake

MODEL = "results/models/classifier.baseline.pt"


def clone(run, target):
    shutil.copytree(run, target, symlinks=True, ignore=shutil.ignore_patterns("locks", "incomplete"))
    return target


def test_a_killed_classifier_job_resumes_to_the_uninterrupted_weights(copy_run, tmp_path):
    # long enough epochs that the kill lands between the first resume save and the end
    overlay = tmp_path / "longer.yaml"
    overlay.write_text(yaml.safe_dump({"classification": {"epochs": 3, "epoch_size": 600}}))
    configs = ("--configfile", *TINY_CONFIGS, str(overlay))
    straight = copy_run()
    killed = clone(straight, tmp_path / "killed")

    snakemake(straight, MODEL, *configs)

    command = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(killed), "--cores", "2", MODEL, *configs]
    job = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                           env=os.environ | {"OMP_NUM_THREADS": "1"})
    resume_file = resume_path(killed / MODEL)
    deadline = time.monotonic() + 600
    while not resume_file.exists() and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()
    assert resume_file.exists() and not (killed / MODEL).exists(), "the kill did not land inside training"

    snakemake(killed, "--unlock", *configs)  # a killed Snakemake leaves its lock, as after any crash
    snakemake(killed, MODEL, *configs)  # the default profile reruns the incomplete job

    log = (killed / "results" / "logs" / "classification" / "train_baseline.log").read_text()
    assert "resuming from" in log and "continuing after epoch" in log
    expected = torch.load(straight / MODEL, weights_only=True)["model"]
    resumed = torch.load(killed / MODEL, weights_only=True)["model"]
    assert expected.keys() == resumed.keys()
    assert all(torch.equal(expected[key], resumed[key]) for key in expected)
    assert not resume_file.exists()
