"""Checking NDJSON lines before an import writes them, optionally in worker processes.

Each line is parsed and checked exactly as a request body is (:func:`fhir_server.fhir.validation.check_resource`:
structure, required bindings, reference target types, invariants): a line that fails becomes its :class:`Outcome`
at once, a valid one an :class:`Item` to write. Checking is pure CPU work (about half of an import's time), needs no
database, and its results are plain data, so :func:`prepared` can run it in a process pool while the importer writes
the batches already checked; it yields the chunks in the order of the lines either way.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from itertools import islice
from typing import Any, Literal

from fhir_server.errors import FhirError, bad_request
from fhir_server.fhir.ndjson_files import Line, is_deletions, parse_line
from fhir_server.fhir.types import served_type, valid_id
from fhir_server.fhir.validation import check_resource
from mappings.patient import MRN_SYSTEM

Action = Literal["created", "updated", "deleted", "absent", "failed"]
IN_FLIGHT = 2
"""Chunks checked ahead of the writer per worker process (bounds memory at any file size)."""


@dataclass(frozen=True)
class Outcome:
    """What became of one line: ``resource_type`` is ``?`` for a line that names none."""

    line: Line
    resource_type: str
    resource_id: str | None
    action: Action
    message: str = ""
    retried: str = ""
    """How a failed line was tried last: "" (in its batch), "alone" (its batch failed) or "after the other lines"
    (it referenced a resource not yet written)."""


@dataclass
class Item:
    """A valid line ready to write: a resource, or the (type, id) pairs a deletions Bundle lists."""

    line: Line
    resource: dict[str, Any] | None
    deletions: list[tuple[str, str]]
    error: FhirError | None = None
    """Why its last write failed (set by the importer)."""

    @property
    def resource_type(self) -> str:
        return "Bundle" if self.resource is None else str(self.resource["resourceType"])

    @property
    def resource_id(self) -> str | None:
        return None if self.resource is None else self.resource.get("id")


def message_of(error: FhirError) -> str:
    """The OperationOutcome's issues as one line: each diagnostics, with its element when named."""
    parts = [i.diagnostics + (f" [{', '.join(i.expression)}]" if i.expression else "") for i in error.issues]
    return "; ".join(parts) or f"HTTP {error.status}"


def prepare(line: Line, value: Any) -> Item:
    """The line checked as a request body; FhirError (400/422) when it is not a valid resource of a served type."""
    if isinstance(value, dict) and is_deletions(value):
        return Item(line, None, [_deletion(e["request"].get("url"), i) for i, e in enumerate(value["entry"])])
    check_resource(value)
    served_type(value["resourceType"])
    if "id" in value:
        valid_id(str(value["id"]), f"{value['resourceType']}.id")
    return Item(line, without_server_mrn(value), [])


def without_server_mrn(resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` without the medical record number of a server like this one (the identifier of
    :data:`mappings.patient.MRN_SYSTEM`, an export's): the number is the server's to assign, so an imported Patient
    gets its clinic's next one, and one already here keeps its own (mappings/patient.py ``_keep_mrn``)."""
    identifiers = resource.get("identifier")
    if resource["resourceType"] != "Patient" or not isinstance(identifiers, list):
        return resource
    kept = [i for i in identifiers if not (isinstance(i, dict) and i.get("system") == MRN_SYSTEM)]
    if len(kept) == len(identifiers):
        return resource
    trimmed = {k: v for k, v in resource.items() if k != "identifier"}
    return {**trimmed, "identifier": kept} if kept else trimmed


def _deletion(url: Any, index: int) -> tuple[str, str]:
    parts = url.strip("/").split("/") if isinstance(url, str) else []
    where = f"Bundle.entry[{index}].request.url"
    if len(parts) != 2:
        raise bad_request(f"a deletion's request.url must be Type/id (got {url!r})", where)
    return served_type(parts[0]), valid_id(parts[1], where)


def prepare_lines(lines: list[Line]) -> list[Item | Outcome]:
    """Each line parsed and checked: an Item, or the failed Outcome naming why (picklable: runs in workers)."""
    result: list[Item | Outcome] = []
    for line in lines:
        value: Any = None
        try:
            value = parse_line(line)
            result.append(prepare(line, value))
        except ValueError as exc:
            result.append(Outcome(line, "?", None, "failed", str(exc)))
        except FhirError as exc:
            result.append(_failed(line, value, exc))
    return result


def _failed(line: Line, value: Any, error: FhirError) -> Outcome:
    resource_type = value.get("resourceType") if isinstance(value, dict) else None
    resource_id = value.get("id") if isinstance(value, dict) else None
    kind = resource_type if isinstance(resource_type, str) else "?"
    return Outcome(line, kind, resource_id if isinstance(resource_id, str) else None, "failed", message_of(error))


def prepared(
    lines: Iterable[Line], size: int, pool: Executor | None, workers: int = 1
) -> Iterator[list[Item | Outcome]]:
    """:func:`prepare_lines` of ``lines`` in chunks of ``size``, in order; in ``pool`` (of ``workers`` processes)
    when given, :data:`IN_FLIGHT` chunks per worker ahead of the caller, never the whole input."""
    iterator = iter(lines)
    chunks = iter(lambda: list(islice(iterator, size)), [])
    if pool is None:
        yield from map(prepare_lines, chunks)
        return
    ahead = IN_FLIGHT * max(1, workers)
    pending: deque[Future[list[Item | Outcome]]] = deque()
    for chunk in chunks:
        pending.append(pool.submit(prepare_lines, chunk))
        if len(pending) > ahead:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
