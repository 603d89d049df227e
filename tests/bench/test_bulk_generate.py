"""bench/bulk/generate.py writes valid R4 (the independent validator's verdict), 10 resources per patient, one
NDJSON file per type, the same files on every run."""

from __future__ import annotations

import gzip
from collections import Counter
from pathlib import Path

import orjson

from bench.bulk.generate import PER_PATIENT, generate
from tests.fhir_validator import validator_errors


def test_generated_patients_are_valid_r4_with_ten_resources_each(tmp_path: Path) -> None:
    counts = generate(tmp_path / "cut", 6, 3, "bench-clinic", False, False)
    generate(tmp_path / "full", 2, 3, "bench-clinic", True, True)
    again = generate(tmp_path / "again", 6, 3, "bench-clinic", False, False)

    assert sum(counts.values()) == 1 + 3 + 6 * PER_PATIENT and counts == again
    files = sorted((tmp_path / "cut").iterdir())
    assert [f.name for f in files] == [f"{t}.ndjson" for t in sorted(counts)]
    assert all(f.read_bytes() == (tmp_path / "again" / f.name).read_bytes() for f in files)
    resources = [orjson.loads(line) for f in files for line in f.read_bytes().splitlines()]
    patients = Counter(r["subject"]["reference"] for r in resources if "subject" in r)
    assert len(patients) == 6
    assert {r["managingOrganization"]["reference"] for r in resources if r["resourceType"] == "Patient"} == {
        "Organization/bench-clinic"
    }
    full = [
        orjson.loads(line)
        for f in (tmp_path / "full").iterdir()
        for line in gzip.decompress(f.read_bytes()).splitlines()
    ]
    assert len(full) > 1 + 3 + 2 * 20  # the whole demo record: labs, medications, immunizations, a note, a care team
    assert validator_errors(resources + full, tmp_path) == []
