"""The query string of a QIDO-RS search (PS3.18 §8.3.4), checked and rebuilt for Orthanc.

Orthanc 1.10 with DICOMweb 1.7 does not percent-decode query strings: ``PatientID=%31CT1`` is matched literally.
So the upstream query is built here from the decoded parameters, with the matching characters ``* ? ^ , - /``
sent raw. A space cannot be sent at all and becomes ``?`` (any one character), as does any non-ASCII character;
characters that would change the query's structure (``& = # %``) are refused with a 400 naming the parameter.
A patient's token gets its own PatientID forced in (any PatientID of the client's is dropped).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from fhir_server.errors import bad_request

_KEYWORD = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,63}$")
_TAG = re.compile(r"^[0-9A-Fa-f]{8}$")
_SAFE = re.compile(r"^[A-Za-z0-9.*?^,\-/:_'()!@;$~+]*$")
_CONTROL = {"limit", "offset", "fuzzymatching", "includefield"}
PATIENT_ID_KEYS = frozenset({"patientid", "00100020"})
WILDCARDS = frozenset("*?,\\")


def upstream_query(pairs: Iterable[tuple[str, str]], patient_id: str | None = None) -> str:
    """The query string to send Orthanc for the client's decoded ``pairs`` (empty: none)."""
    parts: list[str] = []
    for key, value in pairs:
        if patient_id is not None and key.lower() in PATIENT_ID_KEYS:
            continue
        parts.append(f"{key}={_checked(key, value)}")
    if patient_id is not None:
        parts.append(f"PatientID={patient_id}")
    return "&".join(parts)


def _checked(key: str, value: str) -> str:
    if key in _CONTROL:
        return _control(key, value)
    if "." in key:
        raise bad_request(f"{key}: matching inside sequences is not supported by the image archive", key)
    if not (_KEYWORD.match(key) or _TAG.match(key)):
        raise bad_request(f"{key!r} is no DICOM attribute keyword or tag (e.g. PatientID or 00100020)", key)
    return _value(key, value)


def _control(key: str, value: str) -> str:
    if key in ("limit", "offset"):
        if not value.isdigit():
            raise bad_request(f"{key} must be a non-negative integer (got {value!r})", key)
        return str(int(value))
    if key == "fuzzymatching":
        if value not in ("true", "false"):
            raise bad_request(f"fuzzymatching must be true or false (got {value!r})", key)
        return value
    fields = value.split(",")
    for name in fields:
        if name != "all" and not (_KEYWORD.match(name) or _TAG.match(name)):
            raise bad_request(f"includefield: {name!r} is no DICOM attribute keyword or tag", key)
    return ",".join(fields)


def _value(key: str, value: str) -> str:
    sendable = "".join("?" if ch == " " or not ch.isascii() else ch for ch in value)
    if not _SAFE.match(sendable):
        raise bad_request(f"{key}: the value {value!r} holds characters the image archive cannot match", key)
    return sendable


STUDY_UID_KEYS = frozenset({"studyinstanceuid", "0020000d"})


def within_studies(
    pairs: Iterable[tuple[str, str]], allowed: Iterable[str]
) -> tuple[list[tuple[str, str]], list[str]] | None:
    """The client's ``pairs`` without their StudyInstanceUID filter, and the ``allowed`` studies that filter names
    (every allowed one when there is none); None when the filter holds a wildcard, which only Orthanc can apply.

    Sending the allowed studies as a UID list (PS3.4 C.2.2.2.2) makes Orthanc's answer the caller's own, so it can
    stream, and ``limit``/``offset`` page over what the caller may see."""
    asked: set[str] | None = None
    rest: list[tuple[str, str]] = []
    for key, value in pairs:
        if key.lower() not in STUDY_UID_KEYS:
            rest.append((key, value))
            continue
        if any(ch in "*?\\" for ch in value):
            return None
        if value:  # an empty value asks for the attribute, matching any
            named = set(value.split(","))
            asked = named if asked is None else asked & named
    kept = sorted(set(allowed) if asked is None else set(allowed) & asked)
    return rest, kept


def capped(pairs: Iterable[tuple[str, str]], maximum: int) -> tuple[list[tuple[str, str]], bool]:
    """``pairs`` with ``limit`` at most ``maximum`` (PS3.18 §8.3.4.4: a server may answer fewer results than asked),
    and whether the cap bites (no limit was asked, or a larger one): then a full page warrants the 299 Warning."""
    kept: list[tuple[str, str]] = []
    asked: int | None = None
    for key, value in pairs:
        if key == "limit" and value.isdigit():
            asked = int(value) if asked is None else min(asked, int(value))
        else:
            kept.append((key, value))
    bites = not asked or asked > maximum  # none, 0 (which Orthanc may read as "no limit"), or more than the cap
    return [*kept, ("limit", str(maximum if bites or asked is None else asked))], bites


def forced_patient_id(mrn: str) -> str | None:
    """The MRN as an exact PatientID filter; None when it cannot be one (a wildcard would widen the match)."""
    if not mrn or any(ch in WILDCARDS or ch == " " for ch in mrn) or not _SAFE.match(mrn):
        return None
    return mrn


_RETRIEVE_KEYS = frozenset({"viewport", "quality", "window", "annotation", "iccprofile", "charset"})


def retrieve_query(pairs: Iterable[tuple[str, str]]) -> str:
    """The query of a retrieve (the rendering parameters of PS3.18 §8.3.5), checked and rebuilt alike."""
    parts = []
    for key, value in pairs:
        if key not in _RETRIEVE_KEYS:
            raise bad_request(f"{key!r} is no parameter of a DICOMweb retrieve", key)
        parts.append(f"{key}={_value(key, value)}")
    return "&".join(parts)
