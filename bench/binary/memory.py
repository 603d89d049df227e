"""Peak memory of the server while a large Binary goes in and out (http://hl7.org/fhir/R4/binary.html#rest).

Starts `fhir-server serve` (one process, authorization disabled) on a fresh SQLite file or on ``--database-url``,
warms it up with a small Binary, then for each step resets the process's peak resident set size (``VmHWM``, by
writing 5 to /proc/<pid>/clear_refs: Linux) and reads it back when the step is done, so a step's peak is exact,
not sampled. Steps, with a ``--megabytes`` file (20 by default):

- raw upload: ``POST /fhir/Binary`` with ``Content-Type: application/pdf``, the body sent chunked in 64 KiB pieces;
- raw download: ``GET /fhir/Binary/<id>`` (``Accept: application/pdf``), read as a stream and checked by SHA-256;
- FHIR JSON read: the same with ``Accept: application/fhir+json`` (the content base64 in ``data``);
- FHIR JSON upload: ``POST /fhir/Binary`` with the Binary's JSON (``data`` base64).

Run: ``python -m bench.binary.memory [--megabytes 20] [--database-url postgresql+psycopg://...]``
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson

from bench.imaging.common import fhir_server, rss_mb

PIECE = 64 * 1024


def content(size: int) -> bytes:
    """``size`` bytes that look like a PDF and do not compress (SHA-256 blocks)."""
    body = bytearray(b"%PDF-1.7\n")
    block = 0
    while len(body) < size:
        body += hashlib.sha256(block.to_bytes(8, "big")).digest()
        block += 1
    return bytes(body[:size])


def peak_mb(pid: int, step: Callable[[], None]) -> tuple[float, float]:
    """The process's resident memory before ``step`` and its peak while ``step`` runs (MB)."""
    before = rss_mb(pid)
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    step()
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return before, int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/<pid>/status")


def pieces(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), PIECE):
        yield data[start : start + PIECE]


def run(root: str, pid: int, size: int) -> list[tuple[str, float, float]]:
    """(step, resident MB before it, peak MB during it) of each step."""
    data = content(size)
    digest = hashlib.sha256(data).hexdigest()
    with httpx.Client(base_url=f"{root}/fhir", timeout=300) as client:
        client.post("/Organization", json={"resourceType": "Organization", "name": "Bench Clinic"}).raise_for_status()
        warm = client.post("/Binary", content=content(100_000), headers={"Content-Type": "application/pdf"})
        warm.raise_for_status()
        client.get(warm.headers["location"].split("/fhir", 1)[1].rsplit("/_history", 1)[0]).raise_for_status()
        rows: list[tuple[str, float, float]] = []
        created: dict[str, str] = {}

        def upload() -> None:
            response = client.post("/Binary", content=pieces(data), headers={"Content-Type": "application/pdf"})
            response.raise_for_status()
            created["path"] = response.headers["location"].split("/fhir", 1)[1].rsplit("/_history", 1)[0]

        def download() -> None:
            received = hashlib.sha256()
            with client.stream("GET", created["path"], headers={"Accept": "application/pdf"}) as response:
                response.raise_for_status()
                for chunk in response.iter_bytes():
                    received.update(chunk)
            assert received.hexdigest() == digest, "the download differs from the upload"

        def read_json() -> None:
            response = client.get(created["path"], headers={"Accept": "application/fhir+json"})
            response.raise_for_status()
            assert base64.b64decode(response.json()["data"]) == data

        def upload_json() -> None:
            encoded = base64.b64encode(data).decode()
            body = orjson.dumps({"resourceType": "Binary", "contentType": "application/pdf", "data": encoded})
            headers = {"Content-Type": "application/fhir+json", "Prefer": "return=minimal"}
            client.post("/Binary", content=body, headers=headers).raise_for_status()

        megabytes = f"{size / 2**20:g} MB"
        for name, step in (
            (f"raw upload of {megabytes} (chunked)", upload),
            (f"raw download of {megabytes} (streamed)", download),
            ("FHIR JSON read (data as base64)", read_json),
            ("FHIR JSON upload (data as base64)", upload_json),
        ):
            rows.append((name, *peak_mb(pid, step)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--megabytes", type=float, default=20.0)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="bench-binary-"))
    try:
        with fhir_server(None, directory, args.database_url) as server:
            rows = run(server.root, server.pid, int(args.megabytes * 2**20))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    print("| step | resident before (MB) | peak during (MB) | peak - before (MB) |\n|---|---|---|---|")
    for name, before, peak in rows:
        print(f"| {name} | {before:.1f} | {peak:.1f} | {peak - before:+.1f} |")


if __name__ == "__main__":
    main()
