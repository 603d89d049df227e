"""The processes under test: `fhir-server serve` and the ceiling app, each a uvicorn master with its workers.

A worker is a child of the master started by multiprocessing's spawn (``spawn_main`` in its command line); its
resident memory is ``VmRSS`` of /proc/<pid>/status, sampled by :class:`RssSampler` while wrk runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx

VENV_BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
FHIR_SERVER = str(VENV_BIN / "fhir-server")


class StartError(RuntimeError):
    """A server did not come up; the message holds the end of its log."""


@dataclass(frozen=True)
class Served:
    """A running uvicorn master: its pid and root URL (scheme://host:port)."""

    pid: int
    root: str

    def workers(self) -> list[int]:
        """The pids of the master's uvicorn workers."""
        return [pid for pid in children(self.pid) if "spawn_main" in command_line(pid)]


def children(parent: int) -> list[int]:
    """The pids whose parent is ``parent`` (read from /proc/<pid>/stat)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            found.append(int(entry.name))
    return found


def command_line(pid: int) -> str:
    """The command line of ``pid`` ("" when it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def rss_mb(pid: int) -> float | None:
    """The resident set size of ``pid`` in MB (None when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds ``pid`` has used (fields 14 and 15 of /proc/<pid>/stat; None when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def cpu_of(pids: list[int]) -> dict[int, float]:
    """CPU seconds of each of ``pids`` still running."""
    found = {pid: cpu_seconds(pid) for pid in pids}
    return {pid: used for pid, used in found.items() if used is not None}


def postmaster(data_directory: Path) -> int:
    """The pid of the PostgreSQL server of ``data_directory`` (first line of its postmaster.pid)."""
    return int((data_directory / "postmaster.pid").read_text().split()[0])


class RssSampler:
    """While in its ``with`` block, samples the RSS of every worker of ``served`` every ``interval`` seconds
    (``peaks``: each worker's pid to the most it held), and counts the CPU seconds the workers used from start to end
    (``worker_cpu``), and those of PostgreSQL's processes (``database_cpu``, when its postmaster pid is given: the
    backends and background processes, its children)."""

    def __init__(self, served: Served, interval: float = 0.25, postgres: int | None = None) -> None:
        self.served = served
        self.interval = interval
        self.postgres = postgres
        self.peaks: dict[int, float] = {}
        self.worker_cpu = 0.0
        self.database_cpu: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._started: tuple[dict[int, float], dict[int, float]] = ({}, {})

    def __enter__(self) -> RssSampler:
        self._sample()
        self._started = (cpu_of(self.served.workers()), self._database())
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        ended = (cpu_of(self.served.workers()), self._database())
        self._stop.set()
        self._thread.join()
        self._sample()
        self.worker_cpu = used(self._started[0], ended[0])
        if self.postgres is not None:
            self.database_cpu = used(self._started[1], ended[1])

    def _database(self) -> dict[int, float]:
        return cpu_of(children(self.postgres)) if self.postgres is not None else {}

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        for pid in self.served.workers():
            size = rss_mb(pid)
            if size is not None:
                self.peaks[pid] = max(size, self.peaks.get(pid, 0.0))


def used(started: dict[int, float], ended: dict[int, float]) -> float:
    """CPU seconds used between two readings (a process that started in between counts from zero)."""
    return sum(seconds - started.get(pid, 0.0) for pid, seconds in ended.items())


def wait_until_alive(process: subprocess.Popen[bytes], root: str, log: Path, seconds: float = 90) -> None:
    """Return once ``root``/health answers 200; StartError when the process exits or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StartError(f"{root} exited ({process.returncode}):\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if httpx.get(f"{root}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise StartError(f"{root} did not answer /health in {seconds:g} s:\n{log.read_text(errors='replace')[-3000:]}")


@contextmanager
def running(args: list[str], env: dict[str, str], root: str, log: Path) -> Iterator[Served]:
    """Start ``args`` with ``env``, output to ``log``; yield once alive; SIGTERM (then SIGKILL) on exit."""
    with log.open("ab") as output:
        process = subprocess.Popen(args, env=env, cwd=REPO, stdout=output, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        wait_until_alive(process, root, log)
        yield Served(process.pid, root)
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL of the master and its workers after 30 s."""
    workers = children(process.pid)
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        for pid in [process.pid, *workers]:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait()


def clean_environment(**settings: str) -> dict[str, str]:
    """The caller's environment without its FHIR_SERVER_* variables, plus ``settings`` (as FHIR_SERVER_<KEY>)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FHIR_SERVER_")}
    env.update({f"FHIR_SERVER_{key.upper()}": value for key, value in settings.items()})
    return env


def fhir_server(database_url: str, port: int, workers: int, auth: str, log: Path) -> AbstractContextManager[Served]:
    """`fhir-server serve --workers N` on 127.0.0.1:``port``, as users start it (logs at warning level)."""
    root = f"http://127.0.0.1:{port}"
    env = clean_environment(database_url=database_url, auth=auth, base_url=f"{root}/fhir", log_level="warning")
    args = [FHIR_SERVER, "serve", "--workers", str(workers), "--port", str(port)]
    return running(args, env, root, log)


def ceiling(resource_file: Path, port: int, workers: int, log: Path) -> AbstractContextManager[Served]:
    """The bare FastAPI app of bench/perf/ceiling.py under uvicorn (uvloop + httptools), ``workers`` workers."""
    root = f"http://127.0.0.1:{port}"
    env = clean_environment()
    env["BENCH_CEILING_JSON"] = str(resource_file)
    args = [sys.executable, "-m", "uvicorn", "bench.perf.ceiling:app", "--workers", str(workers)]
    args += ["--loop", "uvloop", "--http", "httptools", "--port", str(port), "--log-level", "warning"]
    return running(args, env, root, log)
