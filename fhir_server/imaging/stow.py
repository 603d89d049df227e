"""STOW-RS results per instance (PS3.18 §10.5.3), whatever Orthanc's status says.

Orthanc may answer 400 to a request with one valid and one broken part, having stored the valid one and listing
nothing about the other. So the proxy watches the multipart body as it streams through (:class:`PartSniffer`
keeps only the first bytes of each part: enough for the Part-10 file meta's SOP Class and Instance UIDs) and
afterwards accounts for every part: stored (0008,1199), failed (0008,1198, with a FailureReason), and the status
is 200 (all stored), 202 (some failed) or, when none was stored, Orthanc's 4xx (409 by default), which the proxy
answers with an OperationOutcome naming each failed instance.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from typing import Any

REFERENCED_SOP_SEQUENCE = "00081199"
FAILED_SOP_SEQUENCE = "00081198"
RETRIEVE_URL = "00081190"
SOP_CLASS = "00081150"
SOP_INSTANCE = "00081155"
FAILURE_REASON = "00081197"
CANNOT_UNDERSTAND = 0xC000
"""PS3.4 Annex GG.4 / PS3.18 Table I.2-3: "Error: Cannot understand" (not a DICOM object, or not stored)."""
_HEAD = 4096
_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
_STUDY_IN_URL = re.compile(r"/studies/([0-9.]+)")


@dataclass(frozen=True)
class Part:
    """One part of the request: its SOP Class and Instance UIDs when it is a Part-10 DICOM file."""

    sop_class: str | None
    sop_instance: str | None


@dataclass
class PartSniffer:
    """Watches a ``multipart/related`` body chunk by chunk; keeps the first bytes of each part only."""

    boundary: bytes
    _heads: list[bytearray] = field(default_factory=list)
    _tail: bytes = b""

    def feed(self, chunk: bytes) -> None:
        delimiter = b"--" + self.boundary
        data = self._tail + chunk
        start = 0
        while (found := data.find(delimiter, start)) != -1:
            self._keep(data[start:found])
            self._heads.append(bytearray())
            start = found + len(delimiter)
        end = max(start, len(data) - (len(delimiter) - 1))
        self._keep(data[start:end])
        self._tail = data[end:]

    def _keep(self, data: bytes) -> None:
        if self._heads and len(self._heads[-1]) < _HEAD:
            self._heads[-1] += data[: _HEAD - len(self._heads[-1])]

    def parts(self) -> list[Part]:
        """Every part seen (what follows the closing delimiter is none)."""
        self._keep(self._tail)
        self._tail = b""
        found = []
        for head in self._heads:
            if not head or head.startswith(b"--"):
                continue
            _, _, body = bytes(head).partition(b"\r\n\r\n")
            found.append(part_of(body))
        return found


def part_of(body: bytes) -> Part:
    """The SOP UIDs of the Part-10 file meta (group 0002, Explicit VR Little Endian) at the start of ``body``."""
    if body[128:132] != b"DICM":
        return Part(None, None)
    values: dict[int, str] = {}
    pos = 132
    while pos + 8 <= len(body):
        group, element = struct.unpack_from("<HH", body, pos)
        if group != 0x0002:
            break
        vr = body[pos + 4 : pos + 6]
        if vr in _LONG_VRS:
            (length,) = struct.unpack_from("<I", body, pos + 8)
            pos += 12
        else:
            (length,) = struct.unpack_from("<H", body, pos + 6)
            pos += 8
        values[element] = body[pos : pos + length].rstrip(b"\x00 ").decode("ascii", "replace")
        pos += length
    return Part(values.get(0x0002), values.get(0x0003))


def _uid_of(item: dict[str, Any], tag: str) -> str | None:
    value = (item.get(tag) or {}).get("Value") or [None]
    return str(value[0]) if value[0] is not None else None


def _items(result: dict[str, Any], tag: str) -> list[dict[str, Any]]:
    return [i for i in (result.get(tag) or {}).get("Value") or [] if isinstance(i, dict)]


def studies_stored(result: dict[str, Any]) -> set[str]:
    """The StudyInstanceUIDs of the instances the result lists as stored (from their RetrieveURLs)."""
    uids = set()
    for item in _items(result, REFERENCED_SOP_SEQUENCE):
        for url in (item.get(RETRIEVE_URL) or {}).get("Value") or []:
            match = _STUDY_IN_URL.search(str(url))
            if match:
                uids.add(match.group(1))
    return uids


def _failure(part: Part) -> dict[str, Any]:
    item: dict[str, Any] = {FAILURE_REASON: {"vr": "US", "Value": [CANNOT_UNDERSTAND]}}
    if part.sop_class:
        item[SOP_CLASS] = {"vr": "UI", "Value": [part.sop_class]}
    if part.sop_instance:
        item[SOP_INSTANCE] = {"vr": "UI", "Value": [part.sop_instance]}
    return item


def account(result: dict[str, Any], parts: list[Part], upstream_status: int) -> tuple[dict[str, Any], int]:
    """The result with a failure item for every part Orthanc neither stored nor reported, and its status."""
    stored = _items(result, REFERENCED_SOP_SEQUENCE)
    failed = _items(result, FAILED_SOP_SEQUENCE)
    known = {_uid_of(i, SOP_INSTANCE) for i in stored + failed}
    unreported = len(parts) - len(stored) - len(failed)
    for part in parts:
        if unreported <= 0:
            break
        if part.sop_instance is None or part.sop_instance not in known:
            failed.append(_failure(part))
            unreported -= 1
    answer = dict(result)
    answer[FAILED_SOP_SEQUENCE] = {"vr": "SQ", "Value": failed} if failed else {"vr": "SQ"}
    if not failed:
        return answer, 200
    if stored:
        return answer, 202
    return answer, upstream_status if upstream_status in (400, 409) else 409


def failures(answer: dict[str, Any]) -> list[str]:
    """One sentence per failed instance of an accounted answer (for an OperationOutcome when none was stored)."""
    sentences = []
    for index, item in enumerate(_items(answer, FAILED_SOP_SEQUENCE)):
        uid = _uid_of(item, SOP_INSTANCE) or f"part {index + 1} (not a DICOM Part-10 object)"
        reason = (item.get(FAILURE_REASON) or {}).get("Value") or [CANNOT_UNDERSTAND]
        sentences.append(f"instance {uid} was not stored (FailureReason 0x{int(reason[0]):04X})")
    return sentences
