"""A throw-away single-node SLURM cluster on localhost, for testing profiles/slurm for real.

Everything the cluster writes (configuration, state, logs, pid files, the munge socket and key) lives in
one private folder, and its daemons listen on free ports of their own, so the test neither reads nor
changes a SLURM or munge set up on the machine. The daemons run in the foreground as children of the
test, which stops exactly those processes. Facts behind the choices: ../shared/design/SLURM-NOTES.md.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
COMMANDS = ["slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "munged"]
DAEMON_DIR = "/usr/sbin"

# The node's advertised size. `SlurmdParameters=config_overrides` lets it exceed the real machine, so the
# profile's paper-sized requests (cpus, memory) are accepted unchanged; nothing is enforced without cgroups.
NODE_CPUS = 16
NODE_MEMORY_MB = 65536
# Two fake GPUs: gres needs a character device per GPU, any will do (SLURM only hands out its index).
FAKE_GPU_FILES = ["/dev/null", "/dev/zero"]
PARTITIONS = ["cpu", "gpu"]  # the partition names profiles/slurm uses
CLUSTER_NAME = "melanoflowtest"
# Where SLURM commands look for their configuration without SLURM_CONF. The Snakemake job step removes
# every SLURM_* variable (SLURM_CONF too) before its inner `srun`, so the cluster's configuration must also
# be found here: a link to it, made only where no configuration exists and removed on stop.
DEFAULT_SLURM_CONF = Path("/etc/slurm/slurm.conf")

SLURM_CONF = """\
ClusterName={cluster_name}
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={munge_socket}
SlurmUser=root
SlurmdUser=root
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/run/slurmctld.pid
SlurmdPidFile={root}/run/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={root}/log/jobcomp.txt
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
# Keep finished jobs queryable by scontrol for the whole test (the tiny DAG takes minutes).
MinJobAge=3600
ReturnToService=2
MpiDefault=none
GresTypes=gpu
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} Gres=gpu:{gpus} State=UNKNOWN
"""


class ClusterUnavailable(RuntimeError):
    """The cluster cannot be set up here (not root, no apt, install failed); the test skips with this."""


def missing_commands() -> list[str]:
    return [name for name in COMMANDS if shutil.which(name) is None and not Path(DAEMON_DIR, name).exists()]


def install_packages(log_path: Path, timeout: int = 120) -> None:
    """Install Debian's SLURM and munge packages when a command is missing (needs root and apt)."""
    if not missing_commands():
        return
    if os.geteuid() != 0:
        raise ClusterUnavailable(
            f"SLURM is not installed ({', '.join(missing_commands())} missing) and not root"
        )
    if shutil.which("apt-get") is None:
        raise ClusterUnavailable("SLURM is not installed and there is no apt-get to install it")
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    with open(log_path, "a") as log:
        for command in (
            ["apt-get", "update"],
            ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES],
        ):
            result = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, env=env, timeout=timeout)
            if result.returncode != 0:
                raise ClusterUnavailable(f"`{' '.join(command)}` failed; see {log_path}")
    if missing_commands():
        raise ClusterUnavailable(f"still missing after installing: {missing_commands()}")


def read_or_empty(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def daemon(name: str) -> str:
    return shutil.which(name) or str(Path(DAEMON_DIR, name))


class LocalSlurmCluster:
    """slurmctld + slurmd + a private munged, configured under ``root``; use as a context manager."""

    def __init__(self, root: Path):
        self.root = root
        self.host = socket.gethostname().split(".")[0]
        self.processes: dict[str, subprocess.Popen] = {}
        self.daemon_logs: list = []
        self.env = os.environ | {"SLURM_CONF": str(root / "etc" / "slurm.conf")}
        self.ctld_port = free_port()
        self.linked_default_config = False
        self.munge_dir = Path(tempfile.mkdtemp(prefix="melanoflow-munge-"))
        self.munge_dir.rmdir()  # created again, for user munge, when munged starts
        self.munge_socket = self.munge_dir / "munge.socket"

    @property
    def jobcomp_log(self) -> Path:
        """One line per finished job (JobId, JobName, JobState, Partition, ...): proof of what SLURM ran."""
        return self.root / "log" / "jobcomp.txt"

    def __enter__(self) -> LocalSlurmCluster:
        try:
            self.write_config()
            self.start_munge()
            self.start("slurmctld", [daemon("slurmctld"), "-D", "-c", "-i"])
            self.start("slurmd", [daemon("slurmd"), "-D", "-N", self.host])
            self.wait_until_idle()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def write_config(self) -> None:
        for folder in ("etc", "state", "spool", "run", "log"):
            (self.root / folder).mkdir(parents=True, exist_ok=True)
        conf = SLURM_CONF.format(
            host=self.host,
            cluster_name=CLUSTER_NAME,
            root=self.root,
            munge_socket=self.munge_socket,
            ctld_port=self.ctld_port,
            slurmd_port=free_port(),
            cpus=NODE_CPUS,
            memory=NODE_MEMORY_MB,
            gpus=len(FAKE_GPU_FILES),
        )
        conf += "".join(
            f"PartitionName={name} Nodes={self.host} Default={'YES' if name == PARTITIONS[0] else 'NO'} "
            "MaxTime=INFINITE State=UP\n"
            for name in PARTITIONS
        )
        (self.root / "etc" / "slurm.conf").write_text(conf)
        self.link_default_config()
        (self.root / "etc" / "gres.conf").write_text(
            "".join(f"NodeName={self.host} Name=gpu File={path}\n" for path in FAKE_GPU_FILES)
        )

    def link_default_config(self) -> None:
        if DEFAULT_SLURM_CONF.is_symlink() and f"ClusterName={CLUSTER_NAME}\n" not in read_or_empty(
            DEFAULT_SLURM_CONF
        ):
            raise ClusterUnavailable(f"{DEFAULT_SLURM_CONF} links to another cluster's configuration")
        if DEFAULT_SLURM_CONF.exists() and not DEFAULT_SLURM_CONF.is_symlink():
            raise ClusterUnavailable(
                f"this machine has its own {DEFAULT_SLURM_CONF}; the test leaves it alone"
            )
        DEFAULT_SLURM_CONF.unlink(missing_ok=True)  # a link left by a test run that was killed
        DEFAULT_SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
        DEFAULT_SLURM_CONF.symlink_to(self.root / "etc" / "slurm.conf")
        self.linked_default_config = True

    def start_munge(self) -> None:
        """A munged of our own, run as user munge: own key, own socket (slurm.conf's AuthInfo names it).

        Its folder sits outside ``root`` because munged must reach it as user munge, and refuses a key or
        socket folder that other users could write.
        """
        munge = self.munge_dir
        munge.mkdir(mode=0o755)
        key = munge / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        for path in (munge, key):
            shutil.chown(path, user="munge", group="munge")
        self.start(
            "munged",
            [
                "runuser", "-u", "munge", "--",
                daemon("munged"),
                "--foreground",
                f"--key-file={key}",
                f"--socket={self.munge_socket}",
                f"--pid-file={munge / 'munged.pid'}",
                f"--seed-file={munge / 'munged.seed'}",
            ],
        )  # fmt: skip
        self.wait_for(self.munge_socket.exists, "munged's socket", 10)

    def start(self, name: str, command: list[str]) -> None:
        log = open(self.root / "log" / f"{name}.stdout", "w")  # noqa: SIM115 (open while the daemon runs)
        self.daemon_logs.append(log)
        self.processes[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=self.env)

    def wait_until_idle(self, timeout: float = 60) -> None:
        def node_idle() -> bool:
            result = self.run(["sinfo", "-h", "-N", "-o", "%t"], check=False)
            states = set(result.stdout.split())  # one line per partition
            if any(state.startswith("drain") for state in states):  # left from an earlier start
                self.run(["scontrol", "update", f"nodename={self.host}", "state=resume"], check=False)
            return states == {"idle"}

        self.wait_for(node_idle, "the node to become idle", timeout)

    def wait_for(self, condition, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}: {self.log_tail(name)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"timed out waiting for {what}; {self.log_tail('slurmctld')}")
            time.sleep(0.5)

    def log_tail(self, name: str) -> str:
        logs = [self.root / "log" / f"{name}.log", self.root / "log" / f"{name}.stdout"]
        return " | ".join(path.read_text()[-2000:] for path in logs if path.exists())

    def run(self, command: list[str], check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(
            command, capture_output=True, text=True, env=self.env, check=check, timeout=timeout
        )

    def stop(self) -> None:
        """Cancel leftover jobs, stop the daemons this cluster started (slurmd first), remove their pid files."""
        if "slurmctld" in self.processes and self.processes["slurmctld"].poll() is None:
            self.run(["scancel", "--user", str(os.getuid())], check=False)
        for name in ("slurmd", "slurmctld", "munged"):
            process = self.processes.pop(name, None)
            if process is None:
                continue
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for pid_file in self.root.glob("run/*.pid"):
            pid_file.unlink()
        shutil.rmtree(self.munge_dir, ignore_errors=True)
        if self.linked_default_config:
            DEFAULT_SLURM_CONF.unlink(missing_ok=True)
            self.linked_default_config = False
        for log in self.daemon_logs:
            log.close()
        self.daemon_logs.clear()
