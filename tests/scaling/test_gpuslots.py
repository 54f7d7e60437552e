"""GPU slots: concurrent jobs (real processes) on simulated multi-GPU machines get distinct devices."""

import multiprocessing
import os
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection

import pytest
import torch

from melanoflow import gpuslots, runtime

# Jobs are forked processes: each has its own environment and its own locks, like Snakemake's jobs.
# Each reports through a pipe of its own: a job killed mid-report then cannot block the others.
FORK = multiprocessing.get_context("fork")
WAIT_SECONDS = 20


def job(device_count, environment, report: Connection, timeout):
    """One simulated CUDA job: take a slot, report (pid, device, CUDA_VISIBLE_DEVICES), hold it until killed."""
    os.environ.pop("CUDA_VISIBLE_DEVICES", None)
    os.environ.pop("SLURM_JOB_ID", None)
    os.environ.update(environment)
    try:
        device = gpuslots.acquire_device(device_count, timeout=timeout, poll_seconds=0.05)
    except gpuslots.NoFreeDevice as error:
        report.send((os.getpid(), "NoFreeDevice", str(error)))
        return
    report.send((os.getpid(), device, os.environ.get("CUDA_VISIBLE_DEVICES")))
    time.sleep(3 * WAIT_SECONDS)


@dataclass
class Job:
    process: multiprocessing.Process
    reports: Connection

    def report(self, wait: float = WAIT_SECONDS):
        assert self.reports.poll(wait), f"job {self.process.pid} reported nothing in {wait} s"
        return self.reports.recv()


def start_jobs(count, device_count, environment=None, timeout=None) -> list[Job]:
    jobs = []
    for _ in range(count):
        reports, report = FORK.Pipe(duplex=False)
        process = FORK.Process(target=job, args=(device_count, environment or {}, report, timeout))
        process.start()
        jobs.append(Job(process, reports))
    return jobs


def finish(jobs):
    for each in jobs:
        each.process.terminate()
        each.process.join(WAIT_SECONDS)
        assert each.process.exitcode in (0, -signal.SIGTERM)


@pytest.fixture(autouse=True)
def no_job_outlives_its_test():
    yield
    for child in multiprocessing.active_children():
        child.terminate()
        child.join(WAIT_SECONDS)


@pytest.fixture
def lock_dir(tmp_path, monkeypatch):
    folder = tmp_path / "locks"
    monkeypatch.setenv(gpuslots.LOCK_DIR_ENV, str(folder))
    return folder


def test_four_concurrent_jobs_land_on_four_devices_and_a_fifth_waits_for_a_free_one(lock_dir):
    holders = start_jobs(4, 4)
    granted = [holder.report() for holder in holders]
    assert sorted(device for _, device, _ in granted) == ["0", "1", "2", "3"]
    # Each job sees only its own device.
    assert all(visible == device for _, device, visible in granted)

    # All four still hold their device: a fifth job with a timeout gives up, naming the holders.
    (impatient,) = start_jobs(1, 4, timeout=0.3)
    _, outcome, message = impatient.report()
    assert outcome == "NoFreeDevice"
    assert all(f"device {device}: pid {pid} on" in message for pid, device, _ in granted)

    # A fifth job without a timeout waits, and gets the device of the first job that ends.
    (patient,) = start_jobs(1, 4)
    assert not patient.reports.poll(0.5)
    finish(holders[:1])
    _, device, visible = patient.report()
    assert device == visible == granted[0][1]
    finish([*holders[1:], impatient, patient])


def test_a_crashed_job_does_not_keep_its_device(lock_dir):
    (crashing,) = start_jobs(1, 1)
    crashing.report()
    os.kill(crashing.process.pid, signal.SIGKILL)
    crashing.process.join(WAIT_SECONDS)
    assert crashing.process.exitcode == -signal.SIGKILL

    (next_job,) = start_jobs(1, 1, timeout=5)
    assert next_job.report()[1] == "0"
    finish([next_job])


def test_jobs_choose_among_the_devices_already_made_visible(lock_dir):
    made_visible = {"CUDA_VISIBLE_DEVICES": "2,GPU-5e1d"}
    holders = start_jobs(2, 4, made_visible, timeout=5)
    assert sorted(holder.report()[1] for holder in holders) == ["2", "GPU-5e1d"]
    (third,) = start_jobs(1, 4, made_visible, timeout=0.2)
    assert third.report()[1] == "NoFreeDevice"
    finish([*holders, third])


def test_slurm_jobs_lock_their_own_devices_even_when_numbered_alike(lock_dir):
    """SLURM renumbers each job's GPUs from 0: device "0" of job 11 and of job 12 are different GPUs."""
    jobs = [
        *start_jobs(1, 1, {"SLURM_JOB_ID": "11", "CUDA_VISIBLE_DEVICES": "0"}, timeout=5),
        *start_jobs(1, 1, {"SLURM_JOB_ID": "12", "CUDA_VISIBLE_DEVICES": "0"}, timeout=5),
    ]
    assert [each.report()[1] for each in jobs] == ["0", "0"]
    finish(jobs)
    assert sorted(path.name for path in lock_dir.iterdir()) == ["slurm-job-11", "slurm-job-12"]


@pytest.mark.parametrize(
    ("device_count", "visible"),
    [(0, None), (0, "0,1"), (2, "")],
    ids=["no-device", "cpu-only-build-under-slurm", "all-devices-hidden"],
)
def test_without_cuda_devices_there_is_no_slot_and_the_environment_is_kept(
    lock_dir, monkeypatch, device_count, visible
):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    if visible is not None:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert gpuslots.acquire_device(device_count) is None
    assert os.environ.get("CUDA_VISIBLE_DEVICES") == visible
    assert not lock_dir.exists()


@pytest.fixture
def fake_cuda_machine(lock_dir, monkeypatch):
    """Two CUDA devices as NVML would report them; the slot taken in this process is returned afterwards."""
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    yield
    gpuslots.release_device()


def test_select_device_takes_a_slot_for_cuda_jobs(fake_cuda_machine, lock_dir):
    (other_job,) = start_jobs(1, 2, timeout=5)
    assert other_job.report()[1] == "0"

    assert runtime.select_device("auto") == torch.device("cuda", 0)
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "1"
    assert runtime.select_device("cuda") == torch.device("cuda", 0)  # the same slot, not a second one
    assert f"pid {os.getpid()} on" in (lock_dir / "device-1.lock").read_text()
    finish([other_job])


def test_select_device_runs_on_the_cpu_without_cuda(lock_dir, monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    assert runtime.select_device("auto") == torch.device("cpu")
    assert runtime.select_device("cpu") == torch.device("cpu")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        runtime.select_device("cuda")
    assert not lock_dir.exists()
