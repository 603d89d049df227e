"""Running `fhir-server serve` as users do: a real process on a free port, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

CLI = str(Path(sys.executable).with_name("fhir-server"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(args: list[str], cwd: Path, env: dict[str, str]) -> Iterator[str]:
    """Start the server with ``args`` and ``env`` (FHIR_SERVER_* of the outer environment are dropped); yield its
    root URL once /health answers; stop it afterwards."""
    with served_process(args, cwd, env) as (_process, root):
        yield root


@contextmanager
def served_process(
    args: list[str], cwd: Path, env: dict[str, str], port: int | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """Like :func:`serving`, on ``port`` (None: a free one), yielding the server process too (for tests that
    signal it); a process the test did not stop is stopped with SIGTERM afterwards."""
    port = port or free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FHIR_SERVER_")}
    process = subprocess.Popen(
        [CLI, "serve", "--port", str(port), *args],
        cwd=cwd,
        env={**clean, "FHIR_SERVER_BASE_URL": f"http://127.0.0.1:{port}/fhir", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    root = f"http://127.0.0.1:{port}"
    try:
        _wait_until_alive(process, root)
        yield process, root
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_until_alive(process: subprocess.Popen[bytes], root: str) -> None:
    wait_for(process, f"{root}/health")


def wait_for(process: subprocess.Popen[bytes], url: str) -> None:
    """Return once ``url`` answers 200; fail the test when ``process`` exits first or 60 s pass."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            pytest.fail(f"server exited: {output}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    pytest.fail(f"{url} did not answer within 60 s")
