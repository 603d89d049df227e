"""Checking NDJSON lines, in this process or in worker processes: the same results, in line order."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from fhir_server.fhir.ndjson_files import Line
from fhir_server.fhir.ndjson_prepare import Item, Outcome, prepared


def test_worker_processes_check_lines_as_this_process_does_and_keep_their_order() -> None:
    good = b'{"resourceType": "Patient", "id": "p%d", "gender": "female"}'
    bad = b'{"resourceType": "Patient", "id": "p%d", "gender": "robot"}'
    texts = [(bad if n % 5 == 3 else good) % n for n in range(23)]
    lines = [Line(Path("Patient.ndjson"), n + 1, text) for n, text in enumerate(texts)]

    inline = [p for chunk in prepared(lines, 4, None) for p in chunk]
    with ProcessPoolExecutor(2) as pool:
        chunks = list(prepared(lines, 4, pool, 2))

    assert [len(c) for c in chunks] == [4, 4, 4, 4, 4, 3]
    in_workers = [p for chunk in chunks for p in chunk]
    assert [p.line.number for p in in_workers] == list(range(1, 24))
    assert in_workers == inline
    failed = [p for p in in_workers if isinstance(p, Outcome)]
    assert [(o.line.number, o.resource_id, o.action) for o in failed] == [
        (4, "p3", "failed"),
        (9, "p8", "failed"),
        (14, "p13", "failed"),
        (19, "p18", "failed"),
    ]
    assert "[Patient.gender]" in failed[0].message
    assert all(isinstance(p, Item) and p.resource is not None for p in in_workers if p not in failed)
