"""Errors as data: what went wrong, as one kind of error, importable by every package.

Each :class:`Kind` maps, in one table (:data:`KINDS`), to the HTTP status a client gets, the OperationOutcome issue
code (http://hl7.org/fhir/R4/valueset-issue-type.html) and whether the answer carries an RFC 6750 Bearer challenge
(http://hl7.org/fhir/R4/http.html#summary lists the statuses). Packages raise a :class:`FhirError` built from a kind;
:mod:`fhir_server.fhir.outcomes` renders it as an OperationOutcome, and nothing else knows the statuses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

IssueSeverity = Literal["fatal", "error", "warning", "information"]


class Kind(Enum):
    """What went wrong, named for the client's point of view."""

    INVALID = "invalid"  # the request is malformed: syntax, parameters, structure
    UNAUTHORIZED = "unauthorized"  # no live access token
    FORBIDDEN = "forbidden"  # the token does not permit it (RFC 6750 insufficient_scope)
    REFUSED = "refused"  # a policy refuses it, whatever the token's scopes (no Bearer challenge)
    NOT_FOUND = "not-found"
    NOT_ALLOWED = "not-allowed"  # the method is not supported on this path
    NOT_ACCEPTABLE = "not-acceptable"  # no representation the client accepts
    CONFLICT = "conflict"
    GONE = "gone"  # deleted
    PRECONDITION_FAILED = "precondition-failed"  # If-Match, conditional criteria matching more than one
    TOO_LARGE = "too-large"
    UNSUPPORTED_MEDIA_TYPE = "unsupported-media-type"
    UNPROCESSABLE = "unprocessable"  # well-formed, but breaks a rule of FHIR or of this server
    TOO_MANY_REQUESTS = "too-many-requests"
    CLIENT_CLOSED = "client-closed"  # the client went away before the answer
    NOT_IMPLEMENTED = "not-implemented"
    BAD_GATEWAY = "bad-gateway"  # an upstream (Orthanc, the AI endpoint) failed or answered nonsense
    UNAVAILABLE = "unavailable"  # the database or an upstream is down or overloaded
    GATEWAY_TIMEOUT = "gateway-timeout"  # an upstream did not answer in time


@dataclass(frozen=True)
class KindSpec:
    """How a kind leaves the server: HTTP status, default issue code, and whether a Bearer challenge goes along."""

    status: int
    code: str
    challenge: str | None = None


KINDS: dict[Kind, KindSpec] = {
    Kind.INVALID: KindSpec(400, "invalid"),
    Kind.UNAUTHORIZED: KindSpec(401, "login", challenge="invalid_token"),
    Kind.FORBIDDEN: KindSpec(403, "forbidden", challenge="insufficient_scope"),
    Kind.REFUSED: KindSpec(403, "forbidden"),
    Kind.NOT_FOUND: KindSpec(404, "not-found"),
    Kind.NOT_ALLOWED: KindSpec(405, "not-supported"),
    Kind.NOT_ACCEPTABLE: KindSpec(406, "not-supported"),
    Kind.CONFLICT: KindSpec(409, "conflict"),
    Kind.GONE: KindSpec(410, "deleted"),
    Kind.PRECONDITION_FAILED: KindSpec(412, "conflict"),
    Kind.TOO_LARGE: KindSpec(413, "too-costly"),
    Kind.UNSUPPORTED_MEDIA_TYPE: KindSpec(415, "not-supported"),
    Kind.UNPROCESSABLE: KindSpec(422, "processing"),
    Kind.TOO_MANY_REQUESTS: KindSpec(429, "throttled"),
    Kind.CLIENT_CLOSED: KindSpec(499, "incomplete"),
    Kind.NOT_IMPLEMENTED: KindSpec(501, "not-supported"),
    Kind.BAD_GATEWAY: KindSpec(502, "exception"),
    Kind.UNAVAILABLE: KindSpec(503, "transient"),
    Kind.GATEWAY_TIMEOUT: KindSpec(504, "timeout"),
}
"""The one table of error kinds -> (status, issue code, challenge)."""

_BY_STATUS = {spec.status: kind for kind, spec in reversed(KINDS.items())}  # the first kind of a status wins


def issue_code_for(status: int) -> str:
    """The issue code of an error answered with ``status`` outside a FhirError (a framework's 404/405, say)."""
    kind = _BY_STATUS.get(status)
    return KINDS[kind].code if kind is not None else "processing"


def kind_for(status: int, default: Kind = Kind.INVALID) -> Kind:
    """The kind answered with ``status`` (the first of that status in :data:`KINDS`), else ``default``: for a status
    that comes from elsewhere (an upstream's refusal passed on, a DICOM store's outcome)."""
    return _BY_STATUS.get(status, default)


@dataclass(frozen=True)
class Issue:
    """One OperationOutcome.issue: ``code`` from http://hl7.org/fhir/R4/valueset-issue-type.html."""

    code: str
    diagnostics: str
    expression: tuple[str, ...] = ()
    severity: IssueSeverity = "error"


@dataclass
class FhirError(Exception):
    """A request the server will not carry out; ``status`` is the HTTP status (4xx for client mistakes). Built from a
    kind (:func:`fail`, :func:`fail_all` and the constructors below), never from a bare status."""

    status: int
    issues: list[Issue] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return "; ".join(issue.diagnostics for issue in self.issues)


def fail(
    kind: Kind,
    diagnostics: str,
    expression: str | None = None,
    *,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> FhirError:
    """The error of ``kind``: its status, ``code`` (else the kind's own) and, for a kind with a challenge, the
    ``WWW-Authenticate`` header (RFC 6750 section 3) quoting ``diagnostics``; ``headers`` add to those."""
    issue = Issue(code or KINDS[kind].code, diagnostics, (expression,) if expression else ())
    return fail_all(kind, [issue], headers)


def fail_all(kind: Kind, issues: Sequence[Issue], headers: dict[str, str] | None = None) -> FhirError:
    """The error of ``kind`` listing ``issues`` (each with its own code); a kind with a challenge carries the
    ``WWW-Authenticate`` header quoting the first issue, unless ``headers`` hold one already."""
    spec = KINDS[kind]
    all_headers = dict(headers or {})
    if spec.challenge is not None and "WWW-Authenticate" not in all_headers:
        all_headers["WWW-Authenticate"] = bearer_challenge(spec.challenge, issues[0].diagnostics if issues else None)
    return FhirError(spec.status, list(issues), all_headers)


MAX_TEXT = 2000
"""The most characters of an OperationOutcome ``diagnostics`` or ``expression`` (a client's long value is cut)."""

_UNSAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


BLANK = re.compile("[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]*")
"""Whitespace only: the characters JavaScript's ``String.prototype.trim`` removes (json.html: a FHIR string holds
non-whitespace content, as validators written in JavaScript test it)."""


def printable(text: str, limit: int = MAX_TEXT) -> str:
    """``text`` as a valid FHIR ``string`` (http://hl7.org/fhir/R4/datatypes.html#string): control characters other
    than tab, CR and LF, DEL, C1 controls and lone surrogates escaped as Python writes them (``\\x00``, ``\\ud800``),
    cut to ``limit`` characters (ending ``...``). The empty string when ``text`` holds only whitespace: the caller
    leaves such a string out, as FHIR has no empty strings."""
    safe = _UNSAFE.sub(_escaped, text)
    if BLANK.fullmatch(safe):
        return ""
    return safe if len(safe) <= limit else safe[: limit - 3] + "..."


def error_description(text: str, limit: int = 300) -> str:
    """``text`` as an OAuth ``error_description`` (RFC 6749 section 5.2, RFC 6750 section 3): printable ASCII without
    quote or backslash (others become ``'``), at most ``limit`` characters."""
    return "".join(c if 0x20 <= ord(c) <= 0x7E and c not in '"\\' else "'" for c in text)[:limit]


def bearer_challenge(error: str | None, description: str | None = None, realm: str | None = None) -> str:
    """An RFC 6750 ``WWW-Authenticate: Bearer`` challenge (the description made safe: :func:`error_description`)."""
    parts = [f'realm="{realm}"'] if realm else []
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{error_description(description)}"')
    return "Bearer " + ", ".join(parts) if parts else "Bearer"


def bad_request(diagnostics: str, expression: str | None = None, code: str = "invalid") -> FhirError:
    return fail(Kind.INVALID, diagnostics, expression, code=code)


def not_found(diagnostics: str) -> FhirError:
    return fail(Kind.NOT_FOUND, diagnostics)


def gone(diagnostics: str) -> FhirError:
    return fail(Kind.GONE, diagnostics)


def conflict(diagnostics: str) -> FhirError:
    return fail(Kind.CONFLICT, diagnostics)


def collision() -> FhirError:
    """409: the write met a unique key another resource holds (a concurrent create of the same id, or an id taken by
    a resource the caller may not see; both answer alike)."""
    return conflict("the write collided with a concurrent one (a unique key is taken) and was not applied")


def precondition_failed(diagnostics: str) -> FhirError:
    return fail(Kind.PRECONDITION_FAILED, diagnostics)


def unprocessable(diagnostics: str, expression: str | None = None, code: str = "processing") -> FhirError:
    return fail(Kind.UNPROCESSABLE, diagnostics, expression, code=code)
