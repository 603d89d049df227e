"""STOW-RS results per instance (PS3.18 §10.5.3), whatever Orthanc's status says.

Orthanc may answer 400 to a request with one valid and one broken part, having stored the valid one and listing
nothing about the other. So the proxy watches the multipart body as it streams through (:class:`PartSniffer`
keeps only the first bytes of each part: enough for its SOP Class, SOP Instance and Study Instance UIDs) and
afterwards accounts for every part: stored (0008,1199), failed (0008,1198, with a FailureReason), and the status
is 200 (all stored), 202 (some failed) or, when none was stored, Orthanc's 4xx (409 by default), which the proxy
answers with an OperationOutcome naming each failed instance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fhir_server.imaging import part10

REFERENCED_SOP_SEQUENCE = "00081199"
FAILED_SOP_SEQUENCE = "00081198"
RETRIEVE_URL = "00081190"
SOP_CLASS = "00081150"
SOP_INSTANCE = "00081155"
FAILURE_REASON = "00081197"
CANNOT_UNDERSTAND = 0xC000
"""PS3.4 Annex GG.4 / PS3.18 Table I.2-3: "Error: Cannot understand" (not a DICOM object, or not stored)."""
_HEAD = 1 << 16
"""Bytes kept of each part while it streams through: enough for the file meta and the data set's first elements
(the StudyInstanceUID is usually within the first few KB; a part whose UID lies further is "not known")."""
_STUDY_IN_URL = re.compile(r"/studies/([0-9.]+)")


@dataclass(frozen=True)
class Part:
    """One part of the request: its SOP Class, SOP Instance and Study Instance UIDs when it is a Part-10 DICOM
    file (``dicom``) and they were found in its first bytes."""

    sop_class: str | None
    sop_instance: str | None
    study: str | None = None
    dicom: bool = False


@dataclass
class PartSniffer:
    """Watches a ``multipart/related`` body chunk by chunk; reads each part's UIDs from its first bytes, holding only
    those of the part under way (memory stays bounded however many parts the body has)."""

    boundary: bytes
    _parts: list[Part] = field(default_factory=list)
    _head: bytearray | None = None
    _tail: bytes = b""

    def feed(self, chunk: bytes) -> None:
        delimiter = b"--" + self.boundary
        data = self._tail + chunk
        start = 0
        while (found := data.find(delimiter, start)) != -1:
            self._keep(data[start:found])
            self._close_part()
            self._head = bytearray()
            start = found + len(delimiter)
        end = max(start, len(data) - (len(delimiter) - 1))
        self._keep(data[start:end])
        self._tail = data[end:]

    def _keep(self, data: bytes) -> None:
        if self._head is not None and len(self._head) < _HEAD:
            self._head += data[: _HEAD - len(self._head)]

    def _close_part(self) -> None:
        head, self._head = self._head, None
        if not head or head.startswith(b"--"):  # before the first delimiter, empty, or after the closing one
            return
        _, _, body = bytes(head).partition(b"\r\n\r\n")
        self._parts.append(part_of(body))

    def parts(self) -> list[Part]:
        """Every part seen (what follows the closing delimiter is none)."""
        self._keep(self._tail)
        self._tail = b""
        self._close_part()
        return list(self._parts)


def part_of(body: bytes) -> Part:
    """The UIDs of the Part-10 file at the start of ``body`` (all None when it is no Part-10 file)."""
    head = part10.file_meta(body)
    if head is None:
        return Part(None, None)
    return Part(head.sop_class, head.sop_instance, part10.study_uid(body), dicom=True)


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
