"""Reading NDJSON files for an import: which files, which lines, in which order.

NDJSON (http://ndjson.org, the Bulk Data IG's output format: https://hl7.org/fhir/uv/bulkdata/STU2/export.html#file-
request) holds one FHIR resource per line. A path is one file or a directory of them (``*.ndjson``, ``*.ndjson.gz``,
read in name order). Blank lines are skipped; lines are numbered from 1 as an editor shows them.

An export's files come in no useful order (the IG names none), yet a write must meet its references' targets: a
mapped Appointment needs its Patient and Practitioner to exist. So the lines are read in passes, one per *rank*
(:func:`rank_of`): the clinic's people first, then scheduling, then the clinical record, then the deletions a
``_since`` export lists (Bundles of DELETE requests, its ``deleted`` files). :func:`scan` reads every line once
(parsing it only to learn its rank, kept as one byte per line) and :func:`lines_of_rank` reads the lines of one rank
again. What a rank order cannot settle (a resource referencing one of its own type, cycles) the importer settles by
retrying a line whose reference was missing after the others (:mod:`fhir_server.fhir.ndjson_import`).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import orjson

SUFFIXES = (".ndjson", ".ndjson.gz")

RANKS: tuple[tuple[str, ...], ...] = (
    ("Organization", "Location", "Endpoint"),
    ("Practitioner", "Medication", "Device", "Substance", "Questionnaire", "CodeSystem", "ValueSet", "Binary"),
    ("PractitionerRole", "HealthcareService", "Patient"),
    ("RelatedPerson", "Group", "Coverage", "Account", "Schedule", "Slot", "CarePlan", "EpisodeOfCare"),
    ("Appointment", "ServiceRequest", "Specimen"),
    ("Encounter", "ImagingStudy", "QuestionnaireResponse"),
)
"""The resource types whose lines are read before the rest, in this order (a type's referents mostly come first)."""
OTHER_RANK = len(RANKS)
"""Every type not named in :data:`RANKS` (the clinical record: Observation, Condition, Procedure, ...)."""
REPORT_TYPES = ("DiagnosticReport", "DocumentReference", "Composition", "Provenance", "AuditEvent", "List")
"""Types that gather others (results, documents, provenance): read after them."""
DELETIONS_RANK = OTHER_RANK + 2
"""The Bundles of DELETE requests of a ``deleted`` file: applied last."""
UNREAD = 255
"""A blank or unreadable line: no pass reads it."""
_RANK = {t: rank for rank, types in enumerate(RANKS) for t in types} | {t: OTHER_RANK + 1 for t in REPORT_TYPES}


@dataclass(frozen=True)
class Line:
    """One line of a file: where it is and what it holds."""

    path: Path
    number: int
    text: bytes

    @property
    def where(self) -> str:
        return f"{self.path}:{self.number}"


@dataclass
class Scanned:
    """A file's lines' ranks (one byte per line, index 0 for line 1)."""

    path: Path
    ranks: bytearray = field(default_factory=bytearray)


@dataclass
class Scan:
    """The files of an import: their ranks, the number of lines to import and the lines that are no JSON object."""

    files: list[Scanned]
    total: int
    unreadable: list[tuple[Line, str]]

    def ranks(self) -> list[int]:
        """The ranks present, in reading order."""
        return sorted({r for f in self.files for r in set(f.ranks)} - {UNREAD})


def ndjson_files(path: Path) -> list[Path]:
    """``path`` itself (a file) or the NDJSON files of a directory, in name order; ValueError when there are none."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ValueError(f"{path} is neither a file nor a directory")
    found = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(SUFFIXES))
    if not found:
        raise ValueError(f"{path} holds no {' or '.join('*' + s for s in SUFFIXES)} file")
    return found


def _open(path: Path) -> IO[bytes]:
    return cast(IO[bytes], gzip.open(path, "rb")) if path.name.endswith(".gz") else path.open("rb")


def read_lines(path: Path) -> Iterator[Line]:
    """Every line of a file (decompressed when it ends in ``.gz``), blank ones included, numbered from 1."""
    with _open(path) as stream:
        for number, text in enumerate(stream, start=1):
            yield Line(path, number, text)


def parse_line(line: Line) -> Any:
    """The JSON value of a line; ValueError naming the problem when it is not JSON."""
    try:
        return orjson.loads(line.text)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"the line is not valid JSON: {exc}") from None


def is_deletions(value: dict[str, Any]) -> bool:
    """True for a Bundle of DELETE requests: a line of a Bulk export's ``deleted`` file ("a FHIR Bundle with a type
    of transaction ... request.method SHALL be set to DELETE", export.html#response---complete-status)."""
    entries = value.get("entry")
    if value.get("resourceType") != "Bundle" or value.get("type") != "transaction" or not isinstance(entries, list):
        return False
    requests = [e.get("request") if isinstance(e, dict) else None for e in entries]
    return bool(requests) and all(isinstance(r, dict) and r.get("method") == "DELETE" for r in requests)


def rank_of(value: Any) -> int:
    """The pass a parsed line is read in (:data:`RANKS`); a value that is no resource goes first (to be reported)."""
    if not isinstance(value, dict):
        return 0
    if is_deletions(value):
        return DELETIONS_RANK
    resource_type = value.get("resourceType")
    return _RANK.get(resource_type, OTHER_RANK) if isinstance(resource_type, str) else 0


def scan(paths: list[Path]) -> Scan:
    """Read every line of ``paths`` once: its rank, and the lines that are not JSON (reported, not imported);
    ValueError naming the file when one cannot be read (a truncated or corrupt ``.gz``): before anything is written."""
    result = Scan([], 0, [])
    for path in paths:
        try:
            result.files.append(_scan_file(path, result))
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path}: cannot be read ({exc})") from None
    return result


def _scan_file(path: Path, result: Scan) -> Scanned:
    """One file's ranks; its lines counted into ``result`` (or listed there as unreadable)."""
    scanned = Scanned(path)
    for line in read_lines(path):
        rank = UNREAD
        if line.text.strip():
            try:
                rank = rank_of(parse_line(line))
                result.total += 1
            except ValueError as exc:
                result.unreadable.append((line, str(exc)))
        scanned.ranks.append(rank)
    return scanned


def lines_of_rank(scan: Scan, rank: int) -> Iterator[Line]:
    """The lines of one rank, in file and line order."""
    for scanned in scan.files:
        if rank not in scanned.ranks:
            continue
        for line in read_lines(scanned.path):
            if scanned.ranks[line.number - 1] == rank:
                yield line
