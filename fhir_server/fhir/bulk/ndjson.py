"""Writing NDJSON export files (https://hl7.org/fhir/uv/bulkdata/STU2/export.html#bulk-data-output-file-request):
one FHIR resource per line, UTF-8, no pretty printing, each type's lines split into files of at most ``max_lines``
named ``<Type>-<n>.ndjson`` (``n`` from 1).

A writer appends to files in a staging directory; the runner renames the whole directory to the job's own at the
end, so a file a manifest names is always complete.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO


@dataclass(frozen=True)
class WrittenFile:
    """One complete file: the resource type of its lines, its name and how many lines it holds."""

    type: str
    file: str
    count: int


class NdjsonWriter:
    """The files of one output (``name`` is the file name stem: a resource type, ``deleted`` or ``error``) in
    ``directory``; :meth:`write` takes lines already encoded as one JSON document each (no newline inside)."""

    def __init__(self, directory: Path, name: str, resource_type: str, max_lines: int) -> None:
        self.directory = directory
        self.name = name
        self.resource_type = resource_type
        self.max_lines = max_lines
        self.files: list[WrittenFile] = []
        self._out: BinaryIO | None = None
        self._lines = 0

    def write(self, lines: list[bytes]) -> None:
        """Append ``lines``, starting a new file whenever the current one is full."""
        start = 0
        while start < len(lines):
            out = self._current()
            room = self.max_lines - self._lines
            chunk = lines[start : start + room]
            out.write(b"\n".join(chunk) + b"\n")
            self._lines += len(chunk)
            start += len(chunk)
            if self._lines == self.max_lines:
                self._close()

    def close(self) -> list[WrittenFile]:
        """Finish the last file; the files written, in order (none when no line was written)."""
        self._close()
        return self.files

    def _current(self) -> BinaryIO:
        if self._out is None:
            path = self.directory / f"{self.name}-{len(self.files) + 1}.ndjson"
            self._out = path.open("xb")
            self._lines = 0
        return self._out

    def _close(self) -> None:
        if self._out is None:
            return
        self._out.close()
        self.files.append(WrittenFile(self.resource_type, Path(self._out.name).name, self._lines))
        self._out = None
