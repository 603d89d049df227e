"""Where a Binary's bytes live (http://hl7.org/fhir/R4/binary.html): in chunks beside its JSON, never in it.

A Binary's stored JSON (``stored_resources.extra`` and each ``resource_history`` version) holds no ``data``: it
holds a marker instead, an extension on ``_data`` (:data:`MARKER_URL`) stating the content's size and SHA-256, so a
new content is a change (a new version) and the same content is none. The bytes are in ``binary_chunks`` under the
Binary's id and the version whose JSON carries the marker, cut into :data:`CHUNK_BYTES` pieces: a multiple of 3,
so the base64 of each chunk, joined, is the base64 of the whole.

The write pipeline stays the one write path: the Binary mapping (mappings.binary) takes ``data`` (base64 text of a
FHIR JSON body, or an :class:`Upload` of raw bytes spooled by the download/upload routes) as a :class:`Content`,
leaves the marker in the JSON and hands the content to the transaction (:func:`stage`); the version step stores it
under the version just recorded (:func:`record`). Whoever serves a Binary as FHIR JSON (read, vread, history,
search, includes, ``$everything``, write responses) replaces the marker by ``data`` (:func:`expand`); a download
in the Binary's own content type streams the chunks (fhir_server.fhir.interactions.binary).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Protocol

from sqlalchemy import insert, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from fhir_server.db import BinaryChunk
from fhir_server.db.engine import Database
from fhir_server.db.write_session import state_of

if TYPE_CHECKING:
    from fhir_server.fhir.versioning import NewVersion

CHUNK_BYTES = 3 * 256 * 1024
"""Bytes per stored chunk (768 KiB; a multiple of 3)."""
MARKER_URL = "http://fhir-server.dev/fhir/StructureDefinition/binary-content"
"""The extension on ``Binary._data`` that stands for the content in the stored JSON; never served."""
JSON_SLACK = 64 * 1024
"""What a FHIR JSON Binary may hold besides its base64 ``data`` (contentType, securityContext, meta, ...)."""


def json_body_limit(max_bytes: int) -> int:
    """The largest FHIR JSON body of a Binary whose content has at most ``max_bytes`` bytes."""
    return (max_bytes + 2) // 3 * 4 + JSON_SLACK


class Content(Protocol):
    """A Binary's bytes, readable in chunks of :data:`CHUNK_BYTES` (the last one shorter)."""

    @property
    def size(self) -> int: ...

    @property
    def sha256(self) -> str: ...

    def chunks(self) -> Iterator[bytes]: ...


@dataclass(frozen=True)
class Upload:
    """Raw bytes of an upload, spooled to ``file`` as they arrived (:func:`fhir_server.fhir.interactions.binary`)."""

    file: IO[bytes]
    size: int
    sha256: str

    def chunks(self) -> Iterator[bytes]:
        self.file.seek(0)
        while chunk := self.file.read(CHUNK_BYTES):
            yield chunk


class Base64Data:
    """The base64 text of ``Binary.data`` in a FHIR JSON body, decoded a chunk at a time."""

    def __init__(self, text: str) -> None:
        self.text = "".join(text.split()) if any(c.isspace() for c in text[:1024]) or text[-1:].isspace() else text
        self._sha256: str | None = None

    @property
    def size(self) -> int:
        return len(self.text) // 4 * 3 - len(self.text[-2:]) + len(self.text[-2:].rstrip("="))

    @property
    def sha256(self) -> str:
        if self._sha256 is None:
            digest = hashlib.sha256()
            for chunk in self.chunks():
                digest.update(chunk)
            self._sha256 = digest.hexdigest()
        return self._sha256

    def chunks(self) -> Iterator[bytes]:
        """ValueError when the text is not base64."""
        step = CHUNK_BYTES // 3 * 4
        for start in range(0, len(self.text), step):
            try:
                yield base64.b64decode(self.text[start : start + step], validate=True)
            except binascii.Error as exc:
                raise ValueError(f"not base64: {exc}") from None


def content_of(data: Any) -> Content:
    """The content ``Binary.data`` stands for: an :class:`Upload` as it is, base64 text decoded; TypeError else."""
    if isinstance(data, Upload):
        return data
    if isinstance(data, str):
        return Base64Data(data)
    raise TypeError("Binary.data must be base64 text")


def with_marker(doc: dict[str, Any], content: Content) -> dict[str, Any]:
    """``doc`` (a Binary without ``data``) with the marker of ``content`` on ``_data``."""
    element = dict(doc.get("_data") or {})
    own = [e for e in element.get("extension", ()) if e.get("url") != MARKER_URL]
    marker = {"url": MARKER_URL, "valueString": f"{content.size};sha256={content.sha256}"}
    return {**doc, "_data": {**element, "extension": [*own, marker]}}


def marked_size(resource: dict[str, Any]) -> int | None:
    """The size of the content a stored Binary's marker stands for; None when it has none (no ``data``)."""
    if resource.get("resourceType") != "Binary":
        return None
    for extension in (resource.get("_data") or {}).get("extension", ()):
        if extension.get("url") == MARKER_URL:
            return int(extension["valueString"].split(";", 1)[0])
    return None


def unmarked(resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` without a marker (and without ``_data`` when nothing else was on it): a marker is the server's
    own, never taken from a client."""
    if "_data" not in resource:
        return resource
    element = dict(resource["_data"] or {})
    own = [e for e in element.pop("extension", ()) if e.get("url") != MARKER_URL]
    if own:
        element["extension"] = own
    shown = {k: v for k, v in resource.items() if k != "_data"}
    return {**shown, "_data": element} if element else shown


def stage(session: Session, resource_id: str, content: Content | None) -> None:
    """Hand the content of ``Binary/resource_id``'s next version to the transaction (None: it has none)."""
    state_of(session).binary_contents[resource_id] = content


def record(session: Session, versions: Iterable[NewVersion]) -> None:
    """Store the content staged for each Binary version just recorded (``versions``), a chunk at a
    time, under that version. A content staged for a Binary that got no new version (the same content and
    elements again) stays unused: its current version holds it already, and the Binary's next write stages anew."""
    staged = state_of(session).binary_contents
    for version in versions:
        if version.resource_type != "Binary" or version.resource is None:
            continue
        content = staged.pop(version.resource_id, None)
        if content is None:
            continue
        for seq, chunk in enumerate(content.chunks()):
            values = {"resource_id": version.resource_id, "version_id": version.version_id, "seq": seq}
            clinic = version.organization_id
            session.execute(insert(BinaryChunk), {**values, "content": chunk, "organization_id": clinic})


def chunks(session: Session, resource: dict[str, Any]) -> Iterator[bytes]:
    """The stored chunks of the content of a Binary version (``resource``, as stored), in order."""
    query = (
        select(BinaryChunk.content)
        .where(BinaryChunk.resource_id == resource["id"], BinaryChunk.version_id == int(resource["meta"]["versionId"]))
        .order_by(BinaryChunk.seq)
    )
    yield from session.scalars(query)


def expand(session: Session, resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` as served in FHIR JSON: a Binary's marker replaced by its content as ``data``; for a Bundle (a
    searchset, history, batch response, ...) each entry's, in nested Bundles too (a batch's search entries)."""
    if not _holds_content(resource):
        return resource
    if resource.get("resourceType") != "Bundle":
        data = "".join(base64.b64encode(chunk).decode("ascii") for chunk in chunks(session, resource))
        return {**unmarked(resource), "data": data}
    entries = [
        {**entry, "resource": expand(session, entry["resource"])} if isinstance(entry.get("resource"), dict) else entry
        for entry in resource.get("entry", ())
    ]
    return {**resource, "entry": entries}


async def expanded(database: Database, resource: dict[str, Any]) -> dict[str, Any]:
    """:func:`expand` in a read session off the event loop (no hop when nothing in ``resource`` holds content)."""
    if not _holds_content(resource):
        return resource
    return await run_in_threadpool(_expand_read, database, resource)


def _expand_read(database: Database, resource: dict[str, Any]) -> dict[str, Any]:
    with database.read() as session:
        return expand(session, resource)


def _holds_content(resource: dict[str, Any]) -> bool:
    """True for a Binary with a marker, or a Bundle with one among its entries (nested Bundles too)."""
    if resource.get("resourceType") != "Bundle":
        return marked_size(resource) is not None
    entries = resource.get("entry") or ()
    return any(isinstance(e.get("resource"), dict) and _holds_content(e["resource"]) for e in entries)
