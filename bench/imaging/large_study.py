"""A 1 GB study streamed through ``/dicomweb`` in constant memory: the proxy worker's peak RSS while it relays.

Run from the repository root (needs Debian's orthanc + orthanc-dicomweb, and the test extras)::

    .venv/bin/python -m bench.imaging.large_study [--instances 64] [--megabytes 16] [--rounds 3]

It starts its own Orthanc and ``fhir-server serve`` (as :mod:`bench.imaging.dicomweb_overhead` does), stores one
study of ``--instances`` CT instances of ``--megabytes`` MB of pixel data each (pydicom-made: CT_small's header,
a 16-bit frame of noise), then retrieves the whole study (WADO-RS, ``transfer-syntax=*``) directly and through
the proxy, interleaved, ``--rounds`` times each, while a thread samples the proxy process's resident memory every
20 ms. Prints the study size, both throughputs, and the proxy's RSS before, at peak and after. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import base64
import copy
import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pydicom
from pydicom.filebase import DicomBytesIO
from pydicom.uid import generate_uid

from bench.imaging.common import RssPeak, cpu_seconds, fetch_seconds, fhir_server, load_average, rss_mb, with_orthanc
from tests.imaging.conftest import dicom_file
from tests.imaging.orthanc_process import OrthancProcess

RETRIEVE = {"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'}
COLUMNS = 4096


def instances(count: int, megabytes: int) -> Iterator[bytes]:
    """``count`` instances of one new study, each with ``megabytes`` MB of 16-bit noise as its one frame."""
    template = pydicom.dcmread(dicom_file("CT_small.dcm"))
    template.StudyInstanceUID, template.SeriesInstanceUID = generate_uid(), generate_uid()
    rows = megabytes * (1 << 20) // (2 * COLUMNS)
    template.Rows, template.Columns = rows, COLUMNS
    template.PixelData = os.urandom(rows * COLUMNS * 2)
    for number in range(1, count + 1):
        dataset = copy.copy(template)
        dataset.file_meta = copy.deepcopy(template.file_meta)
        dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        dataset.InstanceNumber = number
        buffer = DicomBytesIO()
        dataset.save_as(buffer, enforce_file_format=True)
        yield buffer.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", type=int, default=64)
    parser.add_argument("--megabytes", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with_orthanc(lambda orthanc, directory: run(orthanc, directory, args), "bench-imaging-large-")


def run(orthanc: OrthancProcess, directory: Path, args: argparse.Namespace) -> None:
    size, study = 0, ""
    with orthanc.rest() as rest:
        for blob in instances(args.instances, args.megabytes):
            size += len(blob)
            stored = rest.post("/instances", content=blob, timeout=120)
            stored.raise_for_status()
            study = (
                study or rest.get(f"/instances/{stored.json()['ID']}/study").json()["MainDicomTags"]["StudyInstanceUID"]
            )
    basic = "Basic " + base64.b64encode(":".join(orthanc.auth).encode()).decode()
    loads = [load_average()]
    with fhir_server(orthanc, directory) as server:
        direct_url, proxy_url = f"{orthanc.url}/dicom-web/studies/{study}", f"{server.root}/dicomweb/studies/{study}"
        fetch_seconds(f"{server.root}/dicomweb/studies?limit=1", {}, 1)  # the worker's first request: imports
        before = rss_mb(server.pid)
        direct: list[float] = []
        proxied: list[float] = []
        cpu = 0.0
        with RssPeak(server.pid) as peak:
            for _ in range(args.rounds):
                direct += fetch_seconds(direct_url, {"Authorization": basic, **RETRIEVE}, 1)
                start = cpu_seconds(server.pid)
                proxied += fetch_seconds(proxy_url, RETRIEVE, 1)
                cpu += cpu_seconds(server.pid) - start
        after = rss_mb(server.pid)
        loads.append(load_average())
    report(args, size, direct, proxied, cpu, (before, peak, after), loads)


def report(
    args: argparse.Namespace,
    size: int,
    direct: list[float],
    proxied: list[float],
    cpu: float,
    memory: tuple[float, RssPeak, float],
    loads: list[str],
) -> None:
    mb = size / 1e6
    before, peak, after = memory
    print(f"{time.strftime('%F %H:%MZ', time.gmtime())}, {os.cpu_count()} cores, load average: {' | '.join(loads)}")
    print(f"study: {args.instances} instances x {args.megabytes} MB = {mb:,.0f} MB, one series; {args.rounds} rounds")
    d, p = statistics.median(direct), statistics.median(proxied)
    print(f"WADO-RS study retrieve, median: direct {d:.2f} s ({mb / d:.0f} MB/s), proxy {p:.2f} s ({mb / p:.0f} MB/s)")
    print(f"  proxy / direct throughput: {d / p:.0%}; proxy CPU {cpu / len(proxied) * 1000 / mb:.2f} ms per MB")
    print(f"proxy worker RSS: {before:.0f} MB before, peak {peak.peak:.0f} MB while streaming, {after:.0f} MB after")
    print(f"  ({peak.samples} samples, every {peak.interval * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
