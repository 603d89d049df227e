"""Proxy overhead: QIDO-RS latency and WADO-RS throughput through ``/dicomweb`` against Orthanc directly.

Run from the repository root (needs Debian's orthanc + orthanc-dicomweb, and the test extras)::

    .venv/bin/python -m bench.imaging.dicomweb_overhead [--instances 100] [--queries 300] [--retrieves 30]

It starts its own Orthanc (as the imaging tests do) and ``fhir-server serve`` (SQLite, one worker, authorization
disabled so both sides do the same work apart from the proxy), stores one study of N clones of pydicom's CT_small
straight into Orthanc, then measures sequential requests on loopback, and, when ``wrk`` is installed, QIDO at 8
connections for 10 s. Prints a Markdown table for bench/RESULTS.md. Nothing here is asserted by the tests.
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
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pydicom
from pydicom.data import get_testdata_file
from pydicom.filebase import DicomBytesIO
from pydicom.uid import generate_uid

from fhir_server.db.migrate import upgrade
from tests.imaging.orthanc_process import OrthancProcess
from tests.servers import serving

STUDY = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
RETRIEVE = {"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'}


def clones(count: int) -> Iterator[bytes]:
    template = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    for number in range(1, count + 1):
        dataset = copy.deepcopy(template)
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        dataset.InstanceNumber = number
        buffer = DicomBytesIO()
        dataset.save_as(buffer, enforce_file_format=True)
        yield buffer.getvalue()


def timings(call: Callable[[], httpx.Response], repeat: int) -> list[float]:
    call()  # warm-up: connections, caches
    found = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = call()
        found.append(time.perf_counter() - start)
        response.raise_for_status()
    return found


def wrk(url: str, headers: dict[str, str]) -> float | None:
    """Requests per second of ``wrk -t2 -c8 -d10s`` (None without wrk)."""
    if shutil.which("wrk") is None:
        return None
    args = ["wrk", "-t2", "-c8", "-d10s", *[a for k, v in headers.items() for a in ("-H", f"{k}: {v}")], url]
    output = subprocess.run(args, capture_output=True, text=True, check=True).stdout  # noqa: S603
    line = next(line for line in output.splitlines() if line.startswith("Requests/sec:"))
    return float(line.split()[1])


@contextmanager
def fhir_server(orthanc: OrthancProcess, directory: Path) -> Iterator[str]:
    url = f"sqlite:///{directory / 'bench.db'}"
    upgrade(url)
    env = {
        "FHIR_SERVER_DATABASE_URL": url,
        "FHIR_SERVER_AUTH": "disabled",
        "FHIR_SERVER_ORTHANC_URL": orthanc.url,
        "FHIR_SERVER_ORTHANC_USERNAME": orthanc.auth[0],
        "FHIR_SERVER_ORTHANC_PASSWORD": orthanc.auth[1],
        "FHIR_SERVER_IMAGING_WATCH": "false",
        "FHIR_SERVER_LOG_LEVEL": "warning",
    }
    with serving([], directory, env) as root:
        yield root


def row(name: str, direct: list[float], proxied: list[float]) -> str:
    def ms(values: list[float], q: float) -> float:
        return statistics.quantiles(values, n=100)[int(q) - 1] * 1000 if q < 100 else max(values) * 1000

    d50, p50 = statistics.median(direct) * 1000, statistics.median(proxied) * 1000
    return f"| {name} | {d50:.1f} / {ms(direct, 95):.1f} | {p50:.1f} / {ms(proxied, 95):.1f} | +{p50 - d50:.1f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--retrieves", type=int, default=30)
    args = parser.parse_args()
    orthanc = OrthancProcess()
    orthanc.start()
    directory = Path(tempfile.mkdtemp(prefix="bench-imaging-"))
    try:
        run(orthanc, directory, args)
    finally:
        orthanc.remove()
        shutil.rmtree(directory, ignore_errors=True)


def run(orthanc: OrthancProcess, directory: Path, args: argparse.Namespace) -> None:
    with orthanc.rest() as rest:
        size = 0
        for blob in clones(args.instances):
            size += len(blob)
            rest.post("/instances", content=blob).raise_for_status()
    direct_root = f"{orthanc.url}/dicom-web"
    basic = "Basic " + base64.b64encode(":".join(orthanc.auth).encode()).decode()
    with fhir_server(orthanc, directory) as root, httpx.Client(timeout=60) as http:
        proxy_root = f"{root}/dicomweb"
        roots = {"direct": (direct_root, {"Authorization": basic}), "proxy": (proxy_root, {})}

        def measure(path: str, repeat: int, headers: dict[str, str] | None = None) -> dict[str, list[float]]:
            return {
                side: timings(lambda b=base, h=auth: http.get(f"{b}{path}", headers={**h, **(headers or {})}), repeat)
                for side, (base, auth) in roots.items()
            }

        qido = measure("/studies?PatientID=1CT1", args.queries)
        series = measure(f"/studies/{STUDY}/series", args.queries)
        metadata = measure(f"/studies/{STUDY}/metadata", args.retrieves)
        study = measure(f"/studies/{STUDY}", args.retrieves, RETRIEVE)
        rps = {side: wrk(f"{base}/studies?PatientID=1CT1", auth) for side, (base, auth) in roots.items()}
    report(args, size, qido, series, metadata, study, rps)


def report(
    args: argparse.Namespace,
    size: int,
    qido: dict[str, list[float]],
    series: dict[str, list[float]],
    metadata: dict[str, list[float]],
    study: dict[str, list[float]],
    rps: dict[str, float | None],
) -> None:
    mb = size / 1e6
    print(f"machine: {platform.node()} {os.cpu_count()} cores, Python {sys.version.split()[0]}, {time.strftime('%F')}")
    print(f"study: {args.instances} x CT_small clones, {mb:.1f} MB; sequential requests on loopback\n")
    print("| request | direct median / p95 ms | proxy median / p95 ms | overhead (median) ms |")
    print("|---|---|---|---|")
    print(row(f"QIDO studies?PatientID= (x{args.queries})", qido["direct"], qido["proxy"]))
    print(row(f"QIDO series of the study (x{args.queries})", series["direct"], series["proxy"]))
    print(row(f"WADO study metadata (x{args.retrieves})", metadata["direct"], metadata["proxy"]))
    print(row(f"WADO study, transfer-syntax=* (x{args.retrieves})", study["direct"], study["proxy"]))
    direct, proxied = mb / statistics.median(study["direct"]), mb / statistics.median(study["proxy"])
    print(f"\nWADO study throughput (median): direct {direct:.0f} MB/s, proxy {proxied:.0f} MB/s")
    if rps["direct"] is not None and rps["proxy"] is not None:
        print(f"QIDO with wrk -t2 -c8 -d10s: direct {rps['direct']:.0f} req/s, proxy {rps['proxy']:.0f} req/s")


if __name__ == "__main__":
    main()
