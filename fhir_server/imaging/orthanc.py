"""A client of Orthanc's own REST API (https://orthanc.uclouvain.be/book/users/rest.html), for the ImagingStudy sync.

The sync reads Orthanc's index rather than DICOMweb: ``/studies/{id}``, its series and instances come from the
database in milliseconds, where instance-level QIDO reads every file. Every failure is a FhirError of
:mod:`fhir_server.imaging.errors` (502/503/504), so callers never see an httpx exception.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from fhir_server.errors import FhirError
from fhir_server.imaging import errors
from fhir_server.settings import Settings


def basic_auth(settings: Settings) -> tuple[str, str] | None:
    if settings.orthanc_username and settings.orthanc_password:
        return settings.orthanc_username, settings.orthanc_password.get_secret_value()
    return None


def timeouts(settings: Settings) -> httpx.Timeout:
    """Connect quickly or give up (503/504); then wait up to ``orthanc_timeout`` for each read."""
    return httpx.Timeout(settings.orthanc_timeout, connect=settings.orthanc_connect_timeout)


@dataclass(frozen=True)
class Change:
    """One row of ``GET /changes``."""

    seq: int
    change_type: str
    resource_type: str
    orthanc_id: str


@dataclass(frozen=True)
class Changes:
    changes: list[Change]
    done: bool
    last: int


class OrthancClient:
    """Synchronous calls to Orthanc's REST API; use as a context manager (one connection pool)."""

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None) -> None:
        if not settings.orthanc_url:
            raise ValueError("no Orthanc is configured (FHIR_SERVER_ORTHANC_URL)")
        self._http = httpx.Client(
            base_url=settings.orthanc_url, auth=basic_auth(settings), timeout=timeouts(settings), transport=transport
        )

    def __enter__(self) -> OrthancClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._http.close()

    def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        response = self._call("GET", path, params=params)
        return orjson.loads(response.content)

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise errors.from_transport(exc) from None
        if response.status_code >= 400:
            raise errors.from_status(response.status_code, response.content)
        return response

    def changes(self, since: int, limit: int = 100) -> Changes:
        """``GET /changes?since=&limit=``: what happened after sequence number ``since``."""
        body = self._get("/changes", {"since": str(since), "limit": str(limit)})
        rows = [
            Change(int(c["Seq"]), str(c["ChangeType"]), str(c["ResourceType"]), str(c["ID"]))
            for c in body.get("Changes", [])
        ]
        return Changes(rows, bool(body.get("Done", True)), int(body.get("Last", since)))

    def last_change(self) -> int:
        """The newest change's sequence number (``GET /changes?last``)."""
        return int(self._get("/changes", {"last": ""}).get("Last", 0))

    def study_ids(self) -> list[str]:
        """Every study's Orthanc id."""
        return [str(i) for i in self._get("/studies")]

    def study(self, orthanc_id: str) -> dict[str, Any] | None:
        """``GET /studies/{id}`` (None when Orthanc no longer has it)."""
        found = self._optional(f"/studies/{orthanc_id}")
        return dict(found) if isinstance(found, dict) else None

    def series_of(self, orthanc_id: str) -> list[dict[str, Any]]:
        found = self._optional(f"/studies/{orthanc_id}/series")
        return list(found or [])

    def instances_of(self, orthanc_id: str) -> list[dict[str, Any]]:
        found = self._optional(f"/studies/{orthanc_id}/instances")
        return list(found or [])

    def instance_metadata(self, instance_id: str, name: str) -> str | None:
        """One metadata item of an instance (``SopClassUid``, ``TransferSyntax``...), None when absent."""
        return self._text(f"/instances/{instance_id}/metadata/{name}")

    def instance_tag(self, instance_id: str, tag: str) -> str | None:
        """The raw value of one top-level tag (``0008-0201``), stripped of DICOM padding; None when absent."""
        value = self._text(f"/instances/{instance_id}/content/{tag}")
        return None if value is None else value.strip("\x00 ")

    def lookup_study(self, study_instance_uid: str) -> str | None:
        """The Orthanc id of the study with this StudyInstanceUID (``POST /tools/lookup``)."""
        response = self._call("POST", "/tools/lookup", content=study_instance_uid.encode())
        for hit in orjson.loads(response.content):
            if hit.get("Type") == "Study":
                return str(hit["ID"])
        return None

    def delete_study(self, orthanc_id: str) -> None:
        self._call("DELETE", f"/studies/{orthanc_id}")

    def _optional(self, path: str) -> Any:
        try:
            return self._get(path)
        except FhirError as exc:
            if exc.status == 404:
                return None
            raise

    def _text(self, path: str) -> str | None:
        try:
            return self._call("GET", path).text
        except FhirError as exc:
            if exc.status == 404:
                return None
            raise


@contextmanager
def orthanc(settings: Settings) -> Iterator[OrthancClient]:
    with OrthancClient(settings) as client:
        yield client
