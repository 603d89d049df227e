"""Proxy overhead: QIDO-RS latency and WADO-RS throughput through ``/dicomweb`` against Orthanc directly.

Run from the repository root (needs Debian's orthanc + orthanc-dicomweb, and the test extras)::

    .venv/bin/python -m bench.imaging.dicomweb_overhead [--instances 100] [--queries 300] [--retrieves 30]

It starts its own Orthanc (as the imaging tests do) and ``fhir-server serve`` (SQLite, one worker, authorization
disabled so both sides do the same work apart from the proxy), stores one study of N clones of pydicom's CT_small
straight into Orthanc, then measures sequential requests on loopback with curl (httpx without it), direct and
proxied **interleaved** in batches of 10 so a shared machine's load swings hit both sides alike, with the proxy
process's CPU time per request (from /proc: steadier than wall time on a loaded box); and, when ``wrk`` is
installed, QIDO at 8 connections for 10 s. Prints a Markdown table for bench/RESULTS.md. Nothing here is asserted
by the tests.
"""

from __future__ import annotations

import argparse
import base64
import copy
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.filebase import DicomBytesIO
from pydicom.uid import generate_uid

from bench.imaging.common import Server, cpu_seconds, fetch_seconds, fhir_server, load_average, with_orthanc
from tests.imaging.conftest import dicom_file
from tests.imaging.orthanc_process import OrthancProcess

STUDY = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
RETRIEVE = {"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'}


def clones(count: int) -> Iterator[bytes]:
    template = pydicom.dcmread(dicom_file("CT_small.dcm"))
    for number in range(1, count + 1):
        dataset = copy.deepcopy(template)
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        dataset.InstanceNumber = number
        buffer = DicomBytesIO()
        dataset.save_as(buffer, enforce_file_format=True)
        yield buffer.getvalue()


BATCH = 10


@dataclass
class Measured:
    """Seconds per request of each side, and the proxy's CPU seconds over its requests."""

    direct: list[float] = field(default_factory=list)
    proxy: list[float] = field(default_factory=list)
    proxy_cpu: float = 0.0


def interleaved(
    server: Server, sides: dict[str, tuple[str, dict[str, str]]], path: str, repeat: int, headers: dict[str, str]
) -> Measured:
    """``repeat`` requests a side (in whole batches of :data:`BATCH`, at least one), alternating direct and proxy."""
    measured = Measured()
    for _ in range(max(1, repeat // BATCH)):
        for side, (base, auth) in sides.items():
            before = cpu_seconds(server.pid)
            found = fetch_seconds(f"{base}{path}", {**auth, **headers}, BATCH)
            if side == "proxy":
                measured.proxy += found
                measured.proxy_cpu += cpu_seconds(server.pid) - before
            else:
                measured.direct += found
    return measured


def wrk(url: str, headers: dict[str, str]) -> float | None:
    """Requests per second of ``wrk -t2 -c8 -d10s`` (None without wrk)."""
    if shutil.which("wrk") is None:
        return None
    args = ["wrk", "-t2", "-c8", "-d10s", *[a for k, v in headers.items() for a in ("-H", f"{k}: {v}")], url]
    output = subprocess.run(args, capture_output=True, text=True, check=True).stdout  # noqa: S603
    line = next(line for line in output.splitlines() if line.startswith("Requests/sec:"))
    return float(line.split()[1])


def row(name: str, measured: Measured) -> str:
    def ms(values: list[float]) -> str:
        p95 = statistics.quantiles(values, n=100)[94] if len(values) > 1 else values[0]
        return f"{statistics.median(values) * 1000:.1f} / {p95 * 1000:.1f}"

    overhead = (statistics.median(measured.proxy) - statistics.median(measured.direct)) * 1000
    cpu = measured.proxy_cpu / len(measured.proxy) * 1000
    count = f"{name} (x{len(measured.proxy)} a side)"
    return f"| {count} | {ms(measured.direct)} | {ms(measured.proxy)} | {overhead:+.1f} | {cpu:.2f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--retrieves", type=int, default=30)
    args = parser.parse_args()
    with_orthanc(lambda orthanc, directory: run(orthanc, directory, args), "bench-imaging-")


def run(orthanc: OrthancProcess, directory: Path, args: argparse.Namespace) -> None:
    with orthanc.rest() as rest:
        size = 0
        for blob in clones(args.instances):
            size += len(blob)
            rest.post("/instances", content=blob).raise_for_status()
    direct_root = f"{orthanc.url}/dicom-web"
    basic = "Basic " + base64.b64encode(":".join(orthanc.auth).encode()).decode()
    loads = [load_average()]
    with fhir_server(orthanc, directory) as server:
        sides = {"direct": (direct_root, {"Authorization": basic}), "proxy": (f"{server.root}/dicomweb", {})}
        json_accept = {"Accept": "application/dicom+json"}
        results = {
            "QIDO studies?PatientID=": interleaved(server, sides, "/studies?PatientID=1CT1", args.queries, json_accept),
            "QIDO series of the study": interleaved(
                server, sides, f"/studies/{STUDY}/series", args.queries, json_accept
            ),
            "WADO study metadata": interleaved(
                server, sides, f"/studies/{STUDY}/metadata", args.retrieves, json_accept
            ),
            "WADO study, transfer-syntax=*": interleaved(server, sides, f"/studies/{STUDY}", args.retrieves, RETRIEVE),
        }
        loads.append(load_average())
        rps = {side: wrk(f"{base}/studies?PatientID=1CT1", auth) for side, (base, auth) in sides.items()}
        loads.append(load_average())
    report(args, size, results, rps, loads)


def report(
    args: argparse.Namespace,
    size: int,
    results: dict[str, Measured],
    rps: dict[str, float | None],
    loads: list[str],
) -> None:
    mb = size / 1e6
    client = "curl" if shutil.which("curl") else "httpx"
    when = time.strftime("%F %H:%MZ", time.gmtime())
    print(f"machine: {platform.node()} {os.cpu_count()} cores, Python {sys.version.split()[0]}, {when}")
    print(f"load average (1/5/15 min) at start, after the sequential part, after wrk: {' | '.join(loads)}")
    print(f"study: {args.instances} x CT_small clones, {mb:.1f} MB; sequential requests on loopback ({client}), ")
    print(f"direct and proxied interleaved in batches of {BATCH}\n")
    print("| request | direct median / p95 ms | proxy median / p95 ms | overhead (median) ms | proxy CPU ms/request |")
    print("|---|---|---|---|---|")
    for name, measured in results.items():
        print(row(name, measured))
    study = list(results.values())[-1]
    direct, proxied = mb / statistics.median(study.direct), mb / statistics.median(study.proxy)
    print(
        f"\nWADO study throughput (median): direct {direct:.0f} MB/s, proxy {proxied:.0f} MB/s ({proxied / direct:.0%})"
    )
    if rps["direct"] is not None and rps["proxy"] is not None:
        print(f"QIDO with wrk -t2 -c8 -d10s: direct {rps['direct']:.0f} req/s, proxy {rps['proxy']:.0f} req/s")


if __name__ == "__main__":
    main()
