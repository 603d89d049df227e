"""The resource paths of DICOMweb (PS3.18 §10.4 QIDO-RS, §10.4 WADO-RS, §10.5 STOW-RS), parsed and validated.

https://dicom.nema.org/medical/dicom/current/output/html/part18.html#sect_10.4. A path this proxy does not know,
or a UID that is no UID, answers 400 before anything reaches Orthanc; a method a resource does not take, 405.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from fhir_server.errors import FhirError, bad_request

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_FRAMES = re.compile(r"^[1-9][0-9]{0,8}(,[1-9][0-9]{0,8})*$")
_BULK_STEP = re.compile(r"^([0-9A-Fa-f]{8}|[0-9]{1,9})$")
QIDO_LEVELS = ("studies", "series", "instances")
VIEWS = ("metadata", "rendered", "thumbnail")
Kind = Literal["search", "retrieve", "store"]


@dataclass(frozen=True)
class Target:
    """What a DICOMweb path names: the action, the UIDs in it and what of them (``view``) is asked for."""

    kind: Kind
    path: str
    study: str | None = None
    series: str | None = None
    instance: str | None = None
    view: str = ""
    """``metadata``, ``rendered``, ``thumbnail``, ``frames``, ``bulk``, or "" for the DICOM objects themselves."""


def parse(path: str, method: str) -> Target:
    """The target of ``method`` on ``path`` (relative to the DICOMweb base)."""
    segments = [s for s in path.strip("/").split("/")] if path.strip("/") else []
    target = _parse(segments)
    if target is None:
        raise bad_request(f"/{path} is no DICOMweb resource this server serves", "path")
    if method == "POST":
        if not (target.kind == "retrieve" and target.series is None and target.view == "") and segments != ["studies"]:
            raise FhirError.of(405, "not-supported", "POST is only taken by /studies and /studies/{{uid}} (STOW-RS)")
        return Target("store", target.path, target.study)
    return target


def _parse(segments: list[str]) -> Target | None:
    path = "/".join(segments)
    if len(segments) == 1 and segments[0] in QIDO_LEVELS:
        return Target("search", path, view=segments[0])
    if len(segments) < 2 or segments[0] != "studies":
        return None
    study = _uid(segments[1], "study")
    rest = segments[2:]
    if not rest:
        return Target("retrieve", path, study)
    if rest in (["series"], ["instances"]):
        return Target("search", path, study, view=rest[0])
    if len(rest) == 1:
        return Target("retrieve", path, study, view=rest[0]) if rest[0] in VIEWS else None
    if rest[0] != "series":
        return None
    return _series(path, study, _uid(rest[1], "series"), rest[2:])


def _series(path: str, study: str, series: str, rest: list[str]) -> Target | None:
    if not rest:
        return Target("retrieve", path, study, series)
    if rest == ["instances"]:
        return Target("search", path, study, series, view="instances")
    if len(rest) == 1:
        return Target("retrieve", path, study, series, view=rest[0]) if rest[0] in VIEWS else None
    if rest[0] != "instances":
        return None
    instance = _uid(rest[1], "instance")
    return _instance(path, study, series, instance, rest[2:])


def _instance(path: str, study: str, series: str, instance: str, rest: list[str]) -> Target | None:
    if not rest:
        return Target("retrieve", path, study, series, instance)
    if len(rest) == 1 and rest[0] in VIEWS:
        return Target("retrieve", path, study, series, instance, rest[0])
    if rest[0] == "frames" and len(rest) in (2, 3):
        if not _FRAMES.match(rest[1]):
            raise bad_request(f"frame list {rest[1]!r} must be frame numbers (from 1) separated by commas", "frames")
        if len(rest) == 3 and rest[2] not in ("rendered", "thumbnail"):
            return None
        return Target("retrieve", path, study, series, instance, "frames" if len(rest) == 2 else rest[2])
    if rest[0] == "bulk" and len(rest) > 1 and all(_BULK_STEP.match(s) for s in rest[1:]):
        return Target("retrieve", path, study, series, instance, "bulk")
    return None


def _uid(value: str, level: str) -> str:
    if len(value) > 64 or not _UID.match(value):
        raise bad_request(f"{value!r} is no {level} instance UID (digits and dots, at most 64)", level)
    return value
