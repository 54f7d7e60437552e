"""One GPU per CUDA job on a shared machine, chosen with file locks.

Snakemake's ``gpu`` resource only caps how many GPU jobs run at once; it does not say which GPU a job
should use, so four jobs started with ``--resources gpu=4`` would all pile onto GPU 0. Each CUDA job
therefore locks a free device slot (one lock file per device, ``fcntl.flock``) and restricts
``CUDA_VISIBLE_DEVICES`` to that device before CUDA starts. The kernel drops a lock when its holder
exits, however it exits, so a crashed job never leaves a GPU reserved.

The slot is chosen among the devices this process may see: the entries of ``CUDA_VISIBLE_DEVICES``
when something (SLURM, a user) has already set it, else every device the driver reports. A machine
without CUDA devices gets no slot and the job runs on the CPU.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)

# Where the lock files live. Every job on a machine must agree on it, so the default is fixed.
LOCK_DIR_ENV = "MELANOFLOW_GPU_LOCK_DIR"
DEFAULT_LOCK_DIR = Path(tempfile.gettempdir()) / "melanoflow-gpu-slots"

# How often a job waiting for a free device tells its log that it is still waiting.
WAITING_LOG_SECONDS = 60.0


class NoFreeDevice(TimeoutError):
    """Every visible device stayed locked by other jobs until the timeout."""


@dataclass
class DeviceSlot:
    """A device this process holds: its ``CUDA_VISIBLE_DEVICES`` entry and the open, locked lock file."""

    device: str
    position: int  # index of the device among those visible before the slot restricted them
    lock_file: IO[str]


# The slot this process holds. Kept open (hence locked) until the process ends or release_device().
_held: DeviceSlot | None = None


def visible_devices(device_count: int | None = None) -> list[str]:
    """The devices this process may use, as ``CUDA_VISIBLE_DEVICES`` entries (indices or UUIDs).

    ``device_count`` is the number of CUDA devices the driver shows this process; by default it is asked
    through NVML (``torch.cuda.device_count``), which does not initialise CUDA, so restricting
    ``CUDA_VISIBLE_DEVICES`` afterwards still takes effect. Tests pass a count to simulate machines.
    """
    if device_count is None:
        import torch

        device_count = torch.cuda.device_count()
    if device_count <= 0:
        return []
    already_visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if already_visible is None:
        return [str(index) for index in range(device_count)]
    entries = [entry.strip() for entry in already_visible.split(",") if entry.strip()]
    return entries[:device_count]


def lock_dir() -> Path:
    """The folder whose lock files all jobs on this machine (or in this SLURM job) share.

    SLURM gives each job its own GPUs and, when it constrains devices, renumbers them from 0 in every
    job: two jobs both seeing device "0" hold different GPUs. Locks are then scoped to the job.
    """
    folder = Path(os.environ.get(LOCK_DIR_ENV) or DEFAULT_LOCK_DIR)
    slurm_job = os.environ.get("SLURM_JOB_ID")
    if slurm_job and "CUDA_VISIBLE_DEVICES" in os.environ:
        folder = folder / f"slurm-job-{slurm_job}"
    return folder


def acquire_device(
    device_count: int | None = None, timeout: float | None = None, poll_seconds: float = 1.0
) -> str | None:
    """Lock a free device and make it the only one this process (and its children) can see.

    Returns the device's ``CUDA_VISIBLE_DEVICES`` entry, or ``None`` when there is no CUDA device.
    When every device is held by another job, waits for one to be released: forever by default (a queue
    behind other users of the machine), or up to ``timeout`` seconds, then raises :class:`NoFreeDevice`.
    A process holds at most one slot; asking again returns the one it holds.
    """
    global _held
    if _held is not None:
        return _held.device
    devices = visible_devices(device_count)
    if not devices:
        return None
    folder = lock_dir()
    make_shared_dir(folder)
    started = time.monotonic()
    last_report = started
    while True:
        for position, device in enumerate(devices):
            lock_file = try_lock(folder / f"{lock_name(device)}.lock")
            if lock_file is not None:
                _held = DeviceSlot(device=device, position=position, lock_file=lock_file)
                os.environ["CUDA_VISIBLE_DEVICES"] = device
                log.info("using CUDA device %s (lock %s)", device, lock_file.name)
                return device
        waited = time.monotonic() - started
        if timeout is not None and waited >= timeout:
            raise NoFreeDevice(
                f"no free CUDA device after {waited:.1f} s: {describe_holders(folder, devices)} "
                f"(lock files in {folder})"
            )
        if time.monotonic() - last_report >= WAITING_LOG_SECONDS or waited == 0:
            log.info("waiting for a free CUDA device: %s", describe_holders(folder, devices))
            last_report = time.monotonic()
        time.sleep(poll_seconds)


def held_device_position() -> int | None:
    """Index of the held device among those visible before the slot was taken (None without a slot)."""
    return None if _held is None else _held.position


def release_device() -> None:
    """Give the slot back before the process ends (a long-lived session done with its GPU work)."""
    global _held
    if _held is not None:
        _held.lock_file.close()
        _held = None


def try_lock(path: Path) -> IO[str] | None:
    """Open and lock ``path`` without waiting; write who holds it. None when another process holds it."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    if os.fstat(descriptor).st_uid == os.getuid():
        os.fchmod(descriptor, 0o666)  # past the umask: other users' jobs must be able to lock it too
    lock_file = os.fdopen(descriptor, "r+")
    try:
        fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock_file.close()
        return None
    lock_file.seek(0)
    lock_file.truncate()
    lock_file.write(
        f"pid {os.getpid()} on {socket.gethostname()} since {time.strftime('%Y-%m-%d %H:%M:%S')}\n"
    )
    lock_file.flush()
    return lock_file


def describe_holders(folder: Path, devices: list[str]) -> str:
    """``device 0: pid 123 on host since ...`` for each device, from the lock files' contents."""
    holders = []
    for device in devices:
        try:
            holder = (folder / f"{lock_name(device)}.lock").read_text().strip() or "unknown holder"
        except OSError:
            holder = "unknown holder"
        holders.append(f"device {device}: {holder}")
    return "; ".join(holders)


def lock_name(device: str) -> str:
    """A file name for a device entry (UUIDs such as ``GPU-8e0f...`` or ``MIG-GPU-.../1/0`` included)."""
    return "device-" + "".join(char if char.isalnum() or char in "-_." else "_" for char in device)


def make_shared_dir(folder: Path) -> None:
    """Create ``folder`` (and missing parents) writable by every user and sticky like /tmp: GPUs are shared."""
    missing = [folder, *folder.parents]
    missing = [path for path in missing if not path.exists()]
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
        if path.stat().st_uid == os.getuid():  # another user's job may have created it meanwhile
            path.chmod(0o1777)
