"""FHIR primitives every package reads the same way: the ``id`` syntax and literal references.

- ``id`` (http://hl7.org/fhir/R4/datatypes.html#id): 1 to 64 of ``A-Z a-z 0-9 - .``. :data:`ID` is the pattern
  (for routes and larger patterns), :func:`is_id` the check.
- A version id of this server (:func:`version_number`): a whole number, read without tripping on ``²`` or
  5,000 digits.
- A literal reference (http://hl7.org/fhir/R4/references.html#literal): ``Type/id``, ``Type/id/_history/vid``, or
  either after a base URL (``http://server/fhir/Patient/1``). :func:`literal_reference` parses one into a
  :class:`LiteralReference`; anything else (``#id``, ``urn:uuid:...``, a conditional ``Type?query``, a malformed
  text) is None, and the caller decides what that means. Whether a base URL is this server's is the caller's
  question too (:mod:`fhir_server.fhir.references` answers it for the write path).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ID = r"[A-Za-z0-9\-.]{1,64}"
"""The ``id`` syntax as a regular expression, unanchored."""
_ID = re.compile(ID)
MAX_VERSION = 2**31 - 1
"""The largest version number (``resource_history.version_id`` is an INTEGER column)."""
_LITERAL = re.compile(rf"(?:(?P<base>.*)/)?(?P<type>[A-Z][A-Za-z]*)/(?P<id>{ID})(?:/_history/(?P<vid>{ID}))?")


def is_id(value: str) -> bool:
    """True when ``value`` is a valid FHIR id."""
    return _ID.fullmatch(value) is not None


def version_number(version_id: str) -> int | None:
    """The version a ``versionId`` names on this server, which numbers versions 1, 2, 3... (``meta.versionId``, the
    ``vid`` of ``_history/vid``); None when ``version_id`` is no whole number a version can have (a non-ASCII digit
    such as ``²`` included, which ``str.isdigit`` would accept and ``int`` refuse)."""
    digits = version_id.lstrip("0")
    if not (version_id.isascii() and version_id.isdigit()) or len(digits) > len(str(MAX_VERSION)):
        return None
    number = int(digits or "0")
    return number if number <= MAX_VERSION else None


@dataclass(frozen=True)
class LiteralReference:
    """What a literal reference names: a resource, maybe one version of it, maybe on a server at ``base``."""

    resource_type: str
    resource_id: str
    version: str | None = None
    base: str | None = None
    """The text before ``Type/id`` (an absolute URL's base, without the closing ``/``); None when relative."""

    @property
    def relative(self) -> str:
        """``Type/id``: the resource, whatever its version."""
        return f"{self.resource_type}/{self.resource_id}"

    @property
    def text(self) -> str:
        """``Type/id`` or ``Type/id/_history/vid``, as the reference names it relative to its base."""
        return self.relative + (f"/_history/{self.version}" if self.version is not None else "")

    @property
    def unversioned(self) -> str:
        """The reference without its ``/_history/vid``: ``[base/]Type/id``."""
        return self.relative if self.base is None else f"{self.base}/{self.relative}"

    def names(self, resource_type: str) -> bool:
        """True when this is a relative, unversioned reference to a ``resource_type`` resource."""
        return self.resource_type == resource_type and self.base is None and self.version is None


def literal_reference(reference: str) -> LiteralReference | None:
    """The resource ``reference`` names, when it is a literal reference (relative or absolute); None otherwise."""
    found = _LITERAL.fullmatch(reference)
    if found is None:
        return None
    return LiteralReference(found["type"], found["id"], found["vid"], found["base"])
