"""What the imaging benchmarks share: a `fhir-server serve` process in front of a bench Orthanc, an interleaved
direct-vs-proxy timer (curl, a C client, when installed: the client's own CPU then weighs little on a 2-core box),
and readings of the server process's CPU time and resident memory from /proc (Linux)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from fhir_server.db.migrate import upgrade
from tests.imaging.orthanc_process import OrthancProcess, free_port

CLI = str(Path(sys.executable).with_name("fhir-server"))


@dataclass(frozen=True)
class Server:
    """A running `fhir-server serve` (one worker: the process itself serves)."""

    root: str
    pid: int


@contextmanager
def fhir_server(orthanc: OrthancProcess | None, directory: Path, database_url: str | None = None) -> Iterator[Server]:
    """The server on SQLite (or ``database_url``, migrated first), authorization disabled (both sides then do the
    same work apart from the proxy); in front of ``orthanc`` when given."""
    url = database_url or f"sqlite:///{directory / 'bench.db'}"
    upgrade(url)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FHIR_SERVER_")}
    env.update(
        {
            "FHIR_SERVER_BASE_URL": f"http://127.0.0.1:{port}/fhir",
            "FHIR_SERVER_DATABASE_URL": url,
            "FHIR_SERVER_AUTH": "disabled",
            "FHIR_SERVER_IMAGING_WATCH": "false",
            "FHIR_SERVER_LOG_LEVEL": "warning",
        }
    )
    if orthanc is not None:
        env.update(
            {
                "FHIR_SERVER_ORTHANC_URL": orthanc.url,
                "FHIR_SERVER_ORTHANC_USERNAME": orthanc.auth[0],
                "FHIR_SERVER_ORTHANC_PASSWORD": orthanc.auth[1],
            }
        )
    process = subprocess.Popen([CLI, "serve", "--port", str(port)], cwd=directory, env=env)  # noqa: S603
    root = f"http://127.0.0.1:{port}"
    try:
        _wait_alive(process, root)
        yield Server(root, process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_alive(process: subprocess.Popen[bytes], root: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            if httpx.get(f"{root}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError("the server did not answer /health within 60 s")


def with_orthanc(run: Callable[[OrthancProcess, Path], None], prefix: str) -> None:
    """Start a throw-away Orthanc and a scratch directory, ``run(orthanc, directory)``, then remove both."""
    orthanc = OrthancProcess()
    orthanc.start()
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        run(orthanc, directory)
    finally:
        orthanc.remove()
        shutil.rmtree(directory, ignore_errors=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    """Resident memory of the process now, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class RssPeak:
    """Samples a process's RSS every ``interval`` seconds in a thread while in use (``with RssPeak(pid) as p``)."""

    pid: int
    interval: float = 0.02
    peak: float = 0.0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> RssPeak:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            self.samples += 1
            time.sleep(self.interval)


def fetch_seconds(url: str, headers: dict[str, str], repeat: int) -> list[float]:
    """Seconds per GET of ``url`` (``repeat`` times on one keep-alive connection after a warm-up), body discarded."""
    if shutil.which("curl"):
        args = ["curl", "-sS", "--fail", "-w", "%{time_total}\\n"]
        for name, value in headers.items():
            args += ["-H", f"{name}: {value}"]
        for _ in range(repeat + 1):
            args += ["-o", "/dev/null", url]
        output = subprocess.run(args, capture_output=True, text=True, check=True).stdout  # noqa: S603
        return [float(line) for line in output.split()][1:]
    found = []
    with httpx.Client(timeout=600) as http:
        for number in range(repeat + 1):
            start = time.perf_counter()
            with http.stream("GET", url, headers=headers) as answer:
                answer.raise_for_status()
                for _ in answer.iter_raw(1 << 20):
                    pass
            if number:
                found.append(time.perf_counter() - start)
    return found


def load_average() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())
