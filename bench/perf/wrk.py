"""Run wrk with the suite's Lua script over a file of requests, and read its figures.

wrk (https://github.com/wg/wrk) is the load generator: a separate process, ``-t`` threads, ``-c`` connections kept
open, a fixed duration. The script (lua/requests.lua, plus lua/updates.lua for If-Match updates) prints one
``BENCH_JSON`` line with the counts and the latency percentiles of wrk's own histogram.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

LUA = Path(__file__).with_name("lua")
MARK = "BENCH_JSON "


class WrkError(RuntimeError):
    """wrk is missing, failed, or printed no figures."""


@dataclass(frozen=True)
class Request:
    """One request line: method, path (from the server's root), optional body and the version for If-Match."""

    method: str
    path: str
    body: str = ""
    version: str = ""

    def line(self) -> str:
        for value in (self.method, self.path, self.body, self.version):
            if "\t" in value or "\n" in value:
                raise ValueError(f"a request field holds a tab or a newline: {value[:80]!r}")
        return "\t".join((self.method, self.path, self.body, self.version))


@dataclass(frozen=True)
class Load:
    """How hard to push: wrk's threads, connections and duration, and the per-request timeout (whole seconds: wrk
    takes no fractions)."""

    connections: int = 32
    threads: int = 2
    seconds: int = 10
    timeout: int = 60


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured. Latencies in milliseconds."""

    requests: int
    seconds: float
    bytes: int
    socket_errors: int
    non_2xx: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Requests per second."""
        return self.requests / self.seconds if self.seconds else 0.0


def available() -> bool:
    """True when a wrk executable is on PATH."""
    return shutil.which("wrk") is not None


def write_requests(path: Path, requests: list[Request]) -> Path:
    """Write ``requests`` in the script's line format; raise ValueError when there are none."""
    if not requests:
        raise ValueError(f"no requests to write to {path.name}")
    path.write_text("".join(r.line() + "\n" for r in requests), encoding="utf-8")
    return path


def script(directory: Path, updates: bool) -> Path:
    """The Lua script for a run: requests.lua, with updates.lua appended for If-Match updates."""
    text = (LUA / "requests.lua").read_text(encoding="utf-8")
    if updates:
        text += "\n" + (LUA / "updates.lua").read_text(encoding="utf-8")
    path = directory / ("updates.lua" if updates else "requests.lua")
    path.write_text(text, encoding="utf-8")
    return path


def command(root: str, requests: Path, load: Load, *, own: bool, updates: bool, headers: dict[str, str]) -> list[str]:
    """wrk's command line: ``own`` gives each thread its own lines (resources no other thread updates)."""
    args = ["wrk", f"-t{load.threads}", f"-c{max(load.connections, load.threads)}", f"-d{load.seconds}s"]
    args += [f"--timeout={load.timeout}s", "--latency", "-s", str(script(requests.parent, updates))]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    return [*args, root, "--", str(requests), "own" if own else "shared", str(load.threads)]


def parse(output: str) -> WrkResult:
    """The figures of the script's BENCH_JSON line (WrkError when missing)."""
    line = next((line for line in output.splitlines() if line.startswith(MARK)), None)
    if line is None:
        raise WrkError(f"wrk printed no figures:\n{output[-2000:]}")
    data = json.loads(line[len(MARK) :])
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        bytes=data["bytes"],
        socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        non_2xx=data["status"],
        p50_ms=data["p50_us"] / 1000,
        p95_ms=data["p95_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        statuses=data["statuses"],
    )


def run(root: str, requests: Path, load: Load, *, own: bool = False, updates: bool = False,
        headers: dict[str, str] | None = None) -> WrkResult:  # fmt: skip
    """Run wrk against ``root`` (scheme://host:port) with the request lines in ``requests``."""
    if not available():
        raise WrkError("wrk is not installed (Debian: apt-get install wrk; see .ci/wrk.sh)")
    args = command(root, requests, load, own=own, updates=updates, headers=headers or {})
    done = subprocess.run(args, capture_output=True, text=True, timeout=load.seconds + load.timeout + 60)  # noqa: S603
    if done.returncode != 0:
        raise WrkError(f"wrk failed ({done.returncode}): {done.stderr[-2000:]}{done.stdout[-2000:]}")
    return parse(done.stdout)
