"""GPU slots: concurrent jobs (real processes) on simulated multi-GPU machines get distinct devices."""

import multiprocessing
import os
import queue
import signal
import time

import pytest
import torch

from melanoflow import gpuslots, runtime

# Jobs are forked processes: each has its own environment and its own locks, like Snakemake's jobs.
FORK = multiprocessing.get_context("fork")
JOIN_SECONDS = 20


def job(device_count, environment, results, timeout=None):
    """One simulated CUDA job: take a slot, report it, hold it until terminated."""
    os.environ.pop("CUDA_VISIBLE_DEVICES", None)
    os.environ.pop("SLURM_JOB_ID", None)
    os.environ.update(environment)
    try:
        device = gpuslots.acquire_device(device_count, timeout=timeout, poll_seconds=0.05)
    except gpuslots.NoFreeDevice as error:
        results.put((os.getpid(), "NoFreeDevice", str(error)))
        return
    results.put((os.getpid(), device, os.environ.get("CUDA_VISIBLE_DEVICES")))
    time.sleep(JOIN_SECONDS)


def start_jobs(count, device_count, results, environment=None, timeout=None):
    processes = [
        FORK.Process(target=job, args=(device_count, environment or {}, results, timeout))
        for _ in range(count)
    ]
    for process in processes:
        process.start()
    return processes


def collect(results, count):
    return [results.get(timeout=JOIN_SECONDS) for _ in range(count)]


def finish(processes):
    for process in processes:
        process.terminate()
        process.join(JOIN_SECONDS)
        assert process.exitcode in (0, -signal.SIGTERM)


@pytest.fixture
def lock_dir(tmp_path, monkeypatch):
    folder = tmp_path / "locks"
    monkeypatch.setenv(gpuslots.LOCK_DIR_ENV, str(folder))
    return folder


def test_four_concurrent_jobs_land_on_four_devices_and_a_fifth_waits_for_a_free_one(lock_dir):
    results = FORK.Queue()
    holders = start_jobs(4, 4, results)
    granted = collect(results, 4)
    assert sorted(device for _, device, _ in granted) == ["0", "1", "2", "3"]
    # Each job sees only its own device.
    assert all(visible == device for _, device, visible in granted)

    # All four still hold their device: a fifth job with a timeout gives up, naming the holders.
    impatient = start_jobs(1, 4, results, timeout=0.3)
    ((_, outcome, message),) = collect(results, 1)
    finish(impatient)
    assert outcome == "NoFreeDevice"
    assert all(f"device {device}: pid {pid} on" in message for pid, device, _ in granted)

    # A fifth job without a timeout waits, and gets the device of the first job that ends.
    patient = start_jobs(1, 4, results)
    with pytest.raises(queue.Empty):
        results.get(timeout=0.5)
    finish(holders[:1])
    ((_, device, visible),) = collect(results, 1)
    first_device = next(device for pid, device, _ in granted if pid == holders[0].pid)
    assert device == visible == first_device
    finish(holders[1:] + patient)


def test_a_crashed_job_does_not_keep_its_device(lock_dir):
    results = FORK.Queue()
    (crashing,) = start_jobs(1, 1, results)
    collect(results, 1)
    os.kill(crashing.pid, signal.SIGKILL)
    crashing.join(JOIN_SECONDS)
    assert crashing.exitcode == -signal.SIGKILL

    next_job = start_jobs(1, 1, results, timeout=5)
    ((_, device, _),) = collect(results, 1)
    assert device == "0"
    finish(next_job)


def test_jobs_choose_among_the_devices_already_made_visible(lock_dir):
    results = FORK.Queue()
    made_visible = {"CUDA_VISIBLE_DEVICES": "2,GPU-5e1d"}
    holders = start_jobs(2, 4, results, made_visible, timeout=5)
    assert sorted(device for _, device, _ in collect(results, 2)) == ["2", "GPU-5e1d"]
    third = start_jobs(1, 4, results, made_visible, timeout=0.2)
    assert collect(results, 1)[0][1] == "NoFreeDevice"
    finish(third)
    finish(holders)


def test_slurm_jobs_lock_their_own_devices_even_when_numbered_alike(lock_dir):
    """SLURM renumbers each job's GPUs from 0: device "0" of job 11 and of job 12 are different GPUs."""
    results = FORK.Queue()
    jobs = [
        *start_jobs(1, 1, results, {"SLURM_JOB_ID": "11", "CUDA_VISIBLE_DEVICES": "0"}, timeout=5),
        *start_jobs(1, 1, results, {"SLURM_JOB_ID": "12", "CUDA_VISIBLE_DEVICES": "0"}, timeout=5),
    ]
    assert [device for _, device, _ in collect(results, 2)] == ["0", "0"]
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
    results = FORK.Queue()
    other_job = start_jobs(1, 2, results, timeout=5)  # holds device 0
    assert collect(results, 1)[0][1] == "0"

    assert runtime.select_device("auto") == torch.device("cuda", 0)
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "1"
    assert runtime.select_device("cuda") == torch.device("cuda", 0)  # the same slot, not a second one
    assert "pid" in (lock_dir / "device-1.lock").read_text()
    finish(other_job)


def test_select_device_runs_on_the_cpu_without_cuda(lock_dir, monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    assert runtime.select_device("auto") == torch.device("cpu")
    assert runtime.select_device("cpu") == torch.device("cpu")
    with pytest.raises(RuntimeError, match="no CUDA device"):
        runtime.select_device("cuda")
    assert not lock_dir.exists()
