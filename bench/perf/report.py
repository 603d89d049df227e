"""The results: one Outcome per scenario, printed as a Markdown table with the machine and the command."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.perf.wrk import WrkResult

REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Outcome:
    """One scenario's figures: wrk's result, the most RSS any worker held (MB), the CPU seconds the workers (and
    PostgreSQL, when known) used during the measured run, the 1-minute load average when it started, and the
    concurrency it ran at."""

    name: str
    request: str
    connections: int
    resources_per_request: int
    result: WrkResult
    rss_mb: float
    workers: int
    load: float
    worker_cpu: float
    database_cpu: float | None = None

    def cpu_ms(self, seconds: float | None) -> str:
        """CPU milliseconds per request (``-`` when unknown): unlike throughput, hardly moved by other load."""
        if seconds is None or not self.result.requests:
            return "-"
        return f"{1000 * seconds / self.result.requests:.2f}"

    @property
    def resources_per_second(self) -> float:
        return self.result.rate * self.resources_per_request

    def as_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found["rate"] = self.result.rate
        found["resources_per_second"] = self.resources_per_second
        return found


def load_average() -> tuple[float, float, float]:
    one, five, fifteen = os.getloadavg()
    return one, five, fifteen


def memory_gb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


def commit() -> str:
    """BENCH_COMMIT when set (a run from an exported tree), else the checked-out commit, ``-dirty`` when the
    working tree has changes."""
    if os.environ.get("BENCH_COMMIT"):
        return os.environ["BENCH_COMMIT"]
    try:
        args = ["git", "-C", str(REPO), "describe", "--always", "--dirty", "--abbrev=10"]
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()  # noqa: S603
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> str:
    """Date, cores, memory, CPU and load average, on one line."""
    one, five, fifteen = load_average()
    cpu = platform.processor() or platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"{now}; nproc {os.cpu_count()}; memory {memory_gb():.1f} GB; {cpu}; "
        f"load average {one:.2f} {five:.2f} {fifteen:.2f}; commit {commit()}"
    )


def ratio(outcome: Outcome, ceiling: Outcome | None) -> str:
    """Resources/s as a fraction of the ceiling's reads/s (for a Bundle: its entries count)."""
    if ceiling is None or ceiling.result.rate == 0 or outcome is ceiling:
        return "1" if outcome is ceiling else "-"
    return f"{outcome.resources_per_second / ceiling.result.rate:.3f}"


def cpu_ratio(outcome: Outcome, ceiling: Outcome | None) -> str:
    """Worker CPU per resource as a multiple of the ceiling's per read: the ratio other load hardly moves."""
    if ceiling is None or not ceiling.result.requests or not ceiling.worker_cpu or not outcome.result.requests:
        return "-"
    per_resource = outcome.worker_cpu / (outcome.result.requests * outcome.resources_per_request)
    return f"{per_resource / (ceiling.worker_cpu / ceiling.result.requests):.1f}"


def table(outcomes: list[Outcome]) -> str:
    """The Markdown table of the outcomes (ratios to the ``ceiling`` outcome, when there is one)."""
    ceiling = next((o for o in outcomes if o.name == "ceiling"), None)
    lines = [
        "| scenario | request | conn | req/s | resources/s | x ceiling | p50 ms | p95 ms | p99 ms | non-2xx "
        "| socket errors | max worker RSS MB (pids seen) | worker CPU ms/req | CPU/resource x ceiling "
        "| PostgreSQL CPU ms/req | load 1m |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for o in outcomes:
        r = o.result
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(r.statuses.items()) if not s.startswith("2"))
        non_2xx = f"{r.non_2xx} ({statuses})" if statuses else str(r.non_2xx)
        lines.append(
            f"| {o.name} | `{o.request}` | {o.connections} | {rate(r.rate)} | {rate(o.resources_per_second)} "
            f"| {ratio(o, ceiling)} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | {r.p99_ms:.1f} | {non_2xx} "
            f"| {r.socket_errors} | {o.rss_mb:.0f} ({o.workers}) | {o.cpu_ms(o.worker_cpu)} | {cpu_ratio(o, ceiling)} "
            f"| {o.cpu_ms(o.database_cpu)} | {o.load:.2f} |"
        )
    return "\n".join(lines)


def rate(value: float) -> str:
    """A rate: whole numbers, one decimal below 100."""
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"
