"""The mapping contract: how one internal table is served as one FHIR resource type.

A mapping is a list of fields. Each field ties a row attribute to one value of the FHIR JSON through a lens
(mappings.lens). ``to_fhir`` starts from the row's ``extra`` document (everything the client sent, verbatim) and
writes each column's value back at its path, except where the document already holds a value that means the
same (``parse(current) == column``): so a client's ``checked-in`` stays ``checked-in`` while the column says
``arrived``, and an internal change to a column always shows. ``from_fhir`` reads the columns out of a resource
and keeps the resource itself as the new ``extra``. Hence ``GET(PUT(r)) == r`` apart from ``meta``.

Nothing valid is refused for a column's sake (issue 14): a value a column cannot hold (a code outside the clinic's
ConceptMap, a string longer than the column, a reference to something that is not the column's target) leaves
the column empty and stays, verbatim, in ``extra``; ``to_fhir`` then keeps it, since an empty column only clears
an element it could have held.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import Select, select

from fhir_server.db.base import FhirResourceMixin
from fhir_server.fhir.primitives import literal_reference
from mappings import columns, lens

SERVER_META = ("versionId", "lastUpdated")


class MappingError(ValueError):
    """A FHIR value the server refuses (a business rule: a taken unique key, a server-assigned value); its
    ``expression`` is its FHIRPath."""

    def __init__(self, message: str, expression: str) -> None:
        super().__init__(message)
        self.expression = expression


class UnheldValueError(MappingError):
    """A valid FHIR value that a column cannot hold: the column stays empty, the value stays in ``extra``."""


def identity(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Field:
    """One column (``attr``) held at one FHIR path; ``parse`` reads the FHIR value, ``render`` writes it.

    ``default`` is the column's value when the element is absent (``active`` absent means true).
    """

    attr: str
    path: lens.Path
    expression: str
    parse: Callable[[Any], Any] = identity
    render: Callable[[Any], Any] = identity
    required: bool = False
    default: Any = None
    unheld: ClassVar[Any] = None
    """The column's value when it cannot hold the element (None: empty; a NOT NULL JSON column says [])."""

    def value_of(self, row: Any) -> Any:
        return getattr(row, self.attr)

    def read(self, resource: Mapping[str, Any]) -> Any:
        """The internal value the resource holds (the default when absent); UnheldValueError when the column cannot
        hold it, MappingError when a ``required`` element is absent."""
        value = lens.get(resource, self.path)
        if value is None:
            if self.required:
                raise MappingError(f"{self.expression} is required by this server", self.expression)
            return self.default
        try:
            return self.parse(value)
        except (ValueError, TypeError, KeyError) as exc:
            raise UnheldValueError(f"{self.expression}: {exc}", self.expression) from None

    def holds(self, element: Any, model: Any) -> bool:
        """Whether the column of ``model`` can hold the element value ``element`` (parsed, and short enough)."""
        try:
            parsed = self.parse(element)
        except (ValueError, TypeError, KeyError):
            return False
        return columns.too_long(model, self.attr, parsed) is None

    def write(self, doc: dict[str, Any], row: Any) -> dict[str, Any]:
        """``doc`` (owned by the caller, changed in place) with the column's value at the field's path."""
        value = self.value_of(row)
        current = lens.get(doc, self.path)
        if current is None and value == self.default:
            return doc  # absent means the default: the column adds nothing the client did not send
        if current is not None and self._means(current, value):
            return doc  # also when both mean nothing: a ContactPoint of system email without a value stays
        if value is None and current is not None and not self.holds(current, type(row)):
            return doc  # a value the column could not hold: it was left empty, the element is the client's
        return lens.put_into(doc, self.path, None if value is None else self.render(value))

    def _means(self, current: Any, value: Any) -> bool:
        try:
            return bool(self.parse(current) == value)
        except (ValueError, TypeError, KeyError):
            return False


@dataclass(frozen=True)
class ReferenceField(Field):
    """A reference to another served resource; the internal value is the target's FHIR id.

    ``attr`` names the row's relationship to the target; ``foreign_key`` the column the repository fills once it
    has resolved the id (same clinic, existing, not deleted).
    """

    target: str = ""
    foreign_key: str = ""

    def value_of(self, row: Any) -> Any:
        related = getattr(row, self.attr)
        return None if related is None else related.fhir_id

    @staticmethod
    def reference_id(target: str) -> Callable[[Any], str]:
        def parse(reference: Any) -> str:
            if not isinstance(reference, str):
                raise TypeError("a reference must be a string")
            named = reference_target(reference)
            if named is None or named[0] != target:
                raise ValueError(f"must reference a {target} (got {reference!r})")
            return named[1]

        return parse


def reference_target(reference: Any) -> tuple[str, str] | None:
    """(type, id) of the resource a literal reference names: ``Type/id``, ``Type/id/_history/vid``, or either
    after a base URL (http://hl7.org/fhir/R4/references.html#literal); None for anything else (``#id``,
    ``urn:uuid:...``). A versioned reference names the resource as much as an unversioned one does."""
    literal = literal_reference(reference.rstrip("/")) if isinstance(reference, str) else None
    return None if literal is None else (literal.resource_type, literal.resource_id)


def reference_field(
    attr: str, target: str, path: lens.Path, expression: str, foreign_key: str, required: bool = False
) -> ReferenceField:
    return ReferenceField(
        attr=attr,
        path=path,
        expression=expression,
        parse=ReferenceField.reference_id(target),
        render=lambda fhir_id: f"{target}/{fhir_id}",
        required=required,
        target=target,
        foreign_key=foreign_key,
    )


@dataclass
class MappedValues:
    """What ``from_fhir`` read: plain column values, references to resolve, the verbatim document, and the
    columns (``attr``) left empty because the element they map is there but they cannot hold it."""

    columns: dict[str, Any] = field(default_factory=dict)
    references: dict[str, tuple[ReferenceField, str | None]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    unheld: set[str] = field(default_factory=set)


class ResourceMapping:
    """Base of every mapping module's mapping: declare ``resource_type``, ``model`` and ``fields``."""

    resource_type: ClassVar[str]
    model: ClassVar[type[FhirResourceMixin]]
    fields: ClassVar[tuple[Field, ...]]
    conceptmaps: ClassVar[tuple[str, ...]] = ()
    keeps_unheld: ClassVar[bool] = False
    """True when a value a column cannot hold leaves the column empty and stays in ``extra`` (every column the
    fields write is nullable or has an ``unheld`` value); False: such a value is refused (MappingError)."""
    shared: ClassVar[bool] = False
    """True when a row may belong to no clinic (``organization_id`` NULL: shared by every clinic)."""
    before_write: ClassVar[tuple[Callable[[Any, Any, bool], None], ...]] = ()
    """Called as ``hook(session, row, new)`` after the values are applied, before the row is stored."""
    dependents: ClassVar[dict[type[Any], Callable[[Any], Any]]] = {}
    """Other tables ``to_fhir`` reads: child model -> the served row a change to the child changes."""

    stored: ClassVar[bool] = False
    """True for a type of the resource store (mappings.stored): no columns, the JSON is the whole resource."""

    @classmethod
    def select_rows(cls) -> Select[Any]:
        """A SELECT of this type's rows (add the WHERE clauses)."""
        return select(cls.model)

    @classmethod
    def new_row(cls) -> Any:
        """A new, empty row of this type."""
        return cls.model()

    @classmethod
    def to_fhir(cls, row: Any) -> dict[str, Any]:
        """The resource as served: id, meta (versionId, lastUpdated and the client's own meta) and content."""
        doc: dict[str, Any] = json_copy(row.extra or {})
        for mapped in cls.fields:
            doc = mapped.write(doc, row)
        doc = cls.finish(doc, row)
        meta = {k: v for k, v in doc.pop("meta", {}).items() if k not in SERVER_META}
        meta = {"versionId": str(row.version_id), "lastUpdated": fhir_instant(row.last_updated), **meta}
        doc.pop("resourceType", None)
        doc.pop("id", None)
        return {"resourceType": cls.resource_type, "id": row.fhir_id, "meta": meta, **doc}

    @classmethod
    def finish(cls, doc: dict[str, Any], row: Any) -> dict[str, Any]:
        """Hook for what fields cannot express (a child table, a computed element). Default: nothing."""
        return doc

    @classmethod
    def from_fhir(cls, resource: Mapping[str, Any]) -> MappedValues:
        """Column values, references and the verbatim document of a (validated) resource; a column that cannot
        hold its element's value gets its default (None for most) and is listed in ``unheld``."""
        values = MappedValues(extra=stored_document(resource))
        for mapped in cls.fields:
            try:
                value = mapped.read(resource)
            except UnheldValueError:
                if not cls.keeps_unheld:
                    raise
                value = None
                values.unheld.add(mapped.attr)
            if isinstance(mapped, ReferenceField):
                values.references[mapped.foreign_key] = (mapped, value)
                continue
            problem = columns.too_long(cls.model, mapped.attr, value)
            if problem is not None:
                if not cls.keeps_unheld:
                    raise MappingError(f"{mapped.expression}: {problem}", mapped.expression)
                value = None
                values.unheld.add(mapped.attr)
            values.columns[mapped.attr] = copy.copy(mapped.unheld) if mapped.attr in values.unheld else value
        return values

    @classmethod
    def apply(cls, row: Any, values: MappedValues, session: Any) -> None:
        """Write read values onto ``row`` (references are resolved by the repository first); MappingError when a
        value another row holds under a unique key (an NPI, a Study Instance UID) is written."""
        for name, value in values.columns.items():
            setattr(row, name, value)
        row.extra = values.extra
        if session is None:
            return
        for mapped in cls.fields:
            if not isinstance(mapped, ReferenceField) and columns.held_elsewhere(session, row, mapped.attr):
                held = getattr(row, mapped.attr)
                message = f"{mapped.expression}: {held!r} already belongs to another {cls.resource_type}"
                raise MappingError(message, mapped.expression)


def stored_document(resource: Mapping[str, Any]) -> dict[str, Any]:
    """The resource as kept in ``extra``: without resourceType, id and the server's meta elements."""
    doc = {k: json_copy(v) for k, v in resource.items() if k not in ("resourceType", "id")}
    meta = {k: v for k, v in doc.pop("meta", {}).items() if k not in SERVER_META}
    if meta:
        doc["meta"] = meta
    return doc


def json_copy(value: Any) -> Any:
    """A deep copy of a JSON tree (dicts, lists, strings, numbers, booleans, None), as ``copy.deepcopy`` makes it
    but several times faster: every resource written is copied into its row and out again to render it. Anything
    else in the tree is copied by ``copy.deepcopy``."""
    kind = type(value)
    if kind is dict:
        return {k: json_copy(v) for k, v in value.items()}
    if kind is list:
        return [json_copy(v) for v in value]
    if kind in _IMMUTABLE:
        return value
    return copy.deepcopy(value)


_IMMUTABLE = frozenset({str, int, float, bool, type(None)})


def fhir_instant(value: datetime) -> str:
    """An instant in FHIR's format, to the millisecond, with its zone."""
    text = value.isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def parse_instant(value: Any) -> datetime:
    """An instant with its zone, that the database can hold: its UTC time must fall in the years 1 to 9999
    (``0001-01-01T05:00:00+14:00`` is valid R4 but falls in year 0 in UTC)."""
    if not isinstance(value, str):
        raise TypeError("expected a dateTime string")
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} needs a time zone")
    try:
        parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{value!r} is outside the years 1 to 9999 in UTC, which this server can hold") from None
    return parsed


def parse_date(value: Any) -> date:
    """A FHIR date; a partial date (``1980`` or ``1980-05``) is held as its first day."""
    if not isinstance(value, str):
        raise TypeError("expected a date string")
    parts = value.split("-")
    if len(parts) == 1:
        return date(int(parts[0]), 1, 1)
    if len(parts) == 2:
        return date(int(parts[0]), int(parts[1]), 1)
    return date.fromisoformat(value)
