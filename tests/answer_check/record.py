"""The distinct FHIR documents the tests received, one per line of NDJSON files, with the tests that received each.

A response body is a FHIR document when its media type is ``application/fhir+json`` (whatever it holds: the
validator says what is wrong with it) or ``application/json`` holding a JSON object with a ``resourceType``; an
``application/fhir+ndjson`` body is one document per line. A document is kept verbatim on one line: JSON allows
line breaks only as whitespace between tokens, so replacing them with spaces changes nothing else. Documents are
kept once (by content hash); which tests received one is kept for the report (the first few, and how many).
"""

from __future__ import annotations

import bisect
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import orjson

CHUNK_LINES = 10_000
CHUNK_BYTES = 32 * 1024 * 1024
"""At most this many documents (or about this many bytes) per NDJSON file: the files are validated in parallel, a
few at a time, and the validator holds a whole file in memory."""
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
    """Distinct documents in ``directory/answers-<n>.ndjson``; line ``k`` of file ``n`` is document
    ``number(n, k)``. Safe to call from several threads."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.receipts: list[Receipt] = []
        self._index: dict[bytes, int] = {}
        self._starts: list[int] = []
        """The number of the first document of each file."""
        self._file: IO[bytes] | None = None
        self._written = 0
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
        full = not self._starts or index - self._starts[-1] >= CHUNK_LINES or self._written >= CHUNK_BYTES
        if self._file is None or full:
            self.close()
            self._starts.append(index)
            self._file = self.chunk(len(self._starts) - 1).open("wb")
            self._written = 0
        self._file.write(document + b"\n")
        self._written += len(document) + 1

    def number(self, chunk: int, line: int) -> int:
        """The document on line ``line`` (from 1) of file ``chunk``."""
        return self._starts[chunk] + line - 1

    def chunk(self, number: int) -> Path:
        """The path of NDJSON file ``number``."""
        return self.directory / f"answers-{number}.ndjson"

    def chunks(self) -> list[Path]:
        """Every NDJSON file written, in order."""
        return [self.chunk(n) for n in range(len(self._starts))]

    def close(self) -> None:
        """Flush and close the file being written (the next document opens a new one)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def documents(self, wanted: set[int]) -> dict[int, bytes]:
        """The documents numbered ``wanted``, read back from the files."""
        found: dict[int, bytes] = {}
        for chunk in sorted({bisect.bisect_right(self._starts, i) - 1 for i in wanted}):
            with self.chunk(chunk).open("rb") as lines:
                for offset, line in enumerate(lines, start=1):
                    if self.number(chunk, offset) in wanted:
                        found[self.number(chunk, offset)] = line.rstrip(b"\n")
        return found
