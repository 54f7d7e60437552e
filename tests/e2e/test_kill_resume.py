"""A workflow killed inside a training job or a shard job (SIGKILL to the whole process group, as a node
failure or an out-of-time cluster job would) and run again with the default profile ends with the weights
and tables of an uninterrupted run: a trainer continues from its resume file, a shard job starts over."""

import os
import random
import shutil
import signal
import subprocess
import time

import pandas as pd
import pytest
import torch
import yaml

from melanoflow.resume import resume_path

from .conftest import REPO, SNAKEMAKE, TINY_CONFIGS, snakemake

# Per trainer: the model it writes, its log, settings that make it train again with several resume saves
# (None: the tiny run's own settings already save once per epoch, so the killed job is compared with the
# session's run), and how many resume saves it makes.
TRAINERS = {
    "classifier": ("results/models/classifier.baseline.pt", "classification/train_baseline.log",
                   {"classification": {"epochs": 4, "epoch_size": 600}}, 4),
    "gan": ("results/models/gan/melanoma.pt", "synthesis/train_melanoma.log",
            {"synthesis": {"gan": {"epochs": 40, "checkpoint_every": 4}}}, 10),
    "segmenter": ("results/models/segmenter.pt", "segment/train.log", None, 3),
    "inpainting": ("results/models/purifier.pt", "purification/train_network.log",
                   {"purification": {"method": "network", "network": {"adam_steps": 30, "checkpoint_every": 5}}}, 8),
}


def kill_point(trainer, saves):
    """After which resume save the kill lands: drawn at random (seeded by the trainer's name, so a failure
    reproduces) from the first half of the saves, which leaves the polling loop time to see each save."""
    return random.Random(f"kill {trainer}").randint(1, max(saves // 2, 1))


def after_saves(resume_file, count):
    """True once ``resume_file`` has been written ``count`` times: each save replaces it atomically, so a
    new inode or modification time marks one."""
    seen = []

    def ready():
        try:
            status = resume_file.stat()
        except FileNotFoundError:
            return False
        if not seen or seen[-1] != (status.st_ino, status.st_mtime_ns):
            seen.append((status.st_ino, status.st_mtime_ns))
        return len(seen) >= count

    return ready


def kill_when(command, ready, deadline_seconds=600):
    """Start ``command`` in its own process group and SIGKILL the group once ``ready()`` holds."""
    job = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                           env=os.environ | {"OMP_NUM_THREADS": "1"})
    deadline = time.monotonic() + deadline_seconds
    while not ready() and job.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(job.pid, signal.SIGKILL)
    job.wait()


def clone(run, target):
    shutil.copytree(run, target, symlinks=True, ignore=shutil.ignore_patterns("locks", "incomplete"))
    return target


def tensors(path):
    state = torch.load(path, weights_only=False, map_location="cpu")
    weights = {key: value for key, value in state.items() if isinstance(value, dict) and key != "settings"}
    return {f"{key}/{name}": tensor for key, part in weights.items() for name, tensor in part.items()
            if isinstance(tensor, torch.Tensor)}


@pytest.mark.slow
@pytest.mark.parametrize("trainer", list(TRAINERS))
def test_a_killed_training_job_resumes_to_the_uninterrupted_weights(tiny_run, copy_run, tmp_path, trainer):
    model, log_name, longer, saves = TRAINERS[trainer]
    if longer is None:
        configs = ("--configfile", *TINY_CONFIGS)
        straight, killed = tiny_run, copy_run()
        (killed / model).unlink()
    else:
        overlay = tmp_path / "longer.yaml"
        overlay.write_text(yaml.safe_dump(longer))
        configs = ("--configfile", *TINY_CONFIGS, str(overlay))
        straight = copy_run()
        killed = clone(straight, tmp_path / "killed")
        snakemake(straight, model, *configs)

    command = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(killed), "--cores", "2", model, *configs]
    resume_file = resume_path(killed / model)
    kill_when(command, after_saves(resume_file, kill_point(trainer, saves)))
    assert resume_file.exists() and not (killed / model).exists(), "the kill did not land inside training"

    snakemake(killed, "--unlock", *configs)  # a killed Snakemake leaves its lock, as after any crash
    snakemake(killed, model, *configs)  # the default profile reruns the incomplete job

    log = (killed / "results" / "logs" / log_name).read_text()
    assert "resuming from" in log
    expected, resumed = tensors(straight / model), tensors(killed / model)
    assert expected and expected.keys() == resumed.keys()
    assert all(torch.equal(expected[key], resumed[key]) for key in expected)
    assert not resume_file.exists()


@pytest.mark.slow
def test_a_killed_shard_job_is_run_again_to_the_same_table_and_images(copy_run):
    run = copy_run()
    table, images = run / "results" / "purified" / "occlusions.parquet", run / "results" / "purified" / "images"
    expected = {path.relative_to(images): path.read_bytes() for path in images.rglob("*") if path.is_file()}
    expected_table = pd.read_parquet(table)
    shard_table = run / "results" / "purified" / "shards" / "0.parquet"
    shard_table.unlink()
    shutil.rmtree(images / "0")
    targets = ["results/purified/shards/0.parquet", "results/purified/occlusions.parquet"]
    command = [SNAKEMAKE, "-s", str(REPO / "Snakefile"), "-d", str(run), "--cores", "1", targets[0],
               "--configfile", *TINY_CONFIGS]

    # as soon as the shard job has written a purified image, before it has written its table
    kill_when(command, lambda: (images / "0").is_dir() and any((images / "0").rglob("*.png")))
    assert not shard_table.exists(), "the kill did not land in the shard job"

    snakemake(run, "--unlock")
    rerun = snakemake(run, *targets)  # the default profile reruns the incomplete shard job, then the merge

    assert "purify_shard" in rerun.stdout + rerun.stderr and "purify_merge" in rerun.stdout + rerun.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(table), expected_table)
    assert {path.relative_to(images): path.read_bytes() for path in images.rglob("*") if path.is_file()} == expected
