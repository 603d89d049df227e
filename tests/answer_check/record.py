"""The distinct FHIR documents the tests received, one per line of NDJSON files, with the tests that received each.

A response body is a FHIR document when its media type is ``application/fhir+json`` (whatever it holds: the
validator says what is wrong with it) or ``application/json`` holding a JSON object with a ``resourceType``; an
``application/fhir+ndjson`` body is one document per line. A document is kept verbatim on one line: JSON allows
line breaks only as whitespace between tokens, so replacing them with spaces changes nothing else. Documents are
kept once (by content hash); which tests received one is kept for the report (the first few, and how many).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import orjson

CHUNK_LINES = 10_000
"""Documents per NDJSON file: the files are validated in parallel, a few at a time."""
RECEIVERS_KEPT = 3


@dataclass
class Receipt:
    """Who received one document: the first ``RECEIVERS_KEPT`` tests, and how many times in all."""

    tests: list[str] = field(default_factory=list)
    times: int = 0

    def add(self, test: str) -> None:
        self.times += 1
        if len(self.tests) < RECEIVERS_KEPT and test not in self.tests:
            self.tests.append(test)


def fhir_documents(body: bytes, content_type: str) -> Iterator[bytes]:
    """The FHIR documents of a response body of ``content_type`` (see the module), each on one line."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type.endswith("ndjson"):
        lines = (line.strip() for line in body.split(b"\n"))
        yield from (line for line in lines if line)
    elif media_type == "application/fhir+json":
        if body.strip():
            yield body.replace(b"\r", b" ").replace(b"\n", b" ")
    elif b'"resourceType"' in body and _names_a_resource_type(body):
        yield body.replace(b"\r", b" ").replace(b"\n", b" ")


def _names_a_resource_type(body: bytes) -> bool:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return isinstance(document, dict) and "resourceType" in document


class AnswerLog:
    """Distinct documents in ``directory/answers-<n>.ndjson``; document ``i`` is line ``i % CHUNK_LINES + 1`` of
    file ``i // CHUNK_LINES``. Safe to call from several threads."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.receipts: list[Receipt] = []
        self._index: dict[bytes, int] = {}
        self._file: IO[bytes] | None = None
        self._lock = threading.Lock()

    def add(self, body: bytes, content_type: str, test: str) -> None:
        """Keep the documents of one response body received by ``test``."""
        for document in fhir_documents(body, content_type):
            self._keep(document, test)

    def _keep(self, document: bytes, test: str) -> None:
        digest = hashlib.blake2b(document, digest_size=16).digest()
        with self._lock:
            index = self._index.get(digest)
            if index is None:
                index = self._index[digest] = len(self.receipts)
                self.receipts.append(Receipt())
                self._write(index, document)
            self.receipts[index].add(test)

    def _write(self, index: int, document: bytes) -> None:
        if index % CHUNK_LINES == 0:
            self.close()
            self._file = self.chunk(index // CHUNK_LINES).open("wb")
        assert self._file is not None
        self._file.write(document + b"\n")

    def chunk(self, number: int) -> Path:
        """The path of NDJSON file ``number``."""
        return self.directory / f"answers-{number}.ndjson"

    def chunks(self) -> list[Path]:
        """Every NDJSON file written, in order."""
        return [self.chunk(n) for n in range((len(self.receipts) + CHUNK_LINES - 1) // CHUNK_LINES)]

    def close(self) -> None:
        """Flush and close the file being written (the next document opens a new one)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def documents(self, wanted: set[int]) -> dict[int, bytes]:
        """The documents numbered ``wanted``, read back from the files."""
        found: dict[int, bytes] = {}
        for number in sorted({i // CHUNK_LINES for i in wanted}):
            with self.chunk(number).open("rb") as lines:
                for offset, line in enumerate(lines):
                    if number * CHUNK_LINES + offset in wanted:
                        found[number * CHUNK_LINES + offset] = line.rstrip(b"\n")
        return found
