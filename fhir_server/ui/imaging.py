"""The link from an ImagingStudy to Orthanc's DICOMweb viewer (the Stone Web viewer by default).

Only a link: the viewer is Orthanc's own page behind Orthanc's own login, never proxied by this server (a proxied
viewer would serve images without this server's access checks). Shown only when ``orthanc_url`` is set.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fhir_server.settings import Settings
from mappings.datatypes import DICOM_UID_SYSTEM

_OID = "urn:oid:"


def study_uid(study: dict[str, Any]) -> str | None:
    """The StudyInstanceUID of an ImagingStudy: its ``urn:dicom:uid`` identifier without ``urn:oid:``."""
    for identifier in study.get("identifier", []):
        value = identifier.get("value") if isinstance(identifier, dict) else None
        if identifier.get("system") == DICOM_UID_SYSTEM and isinstance(value, str) and value.startswith(_OID):
            return value[len(_OID) :]
    return None


def viewer_link(settings: Settings, resource: dict[str, Any]) -> str | None:
    """The viewer URL of an ImagingStudy (``ui_imaging_viewer`` filled in, under ``orthanc_url`` when a path); None
    when Orthanc is not configured, ``resource`` is no ImagingStudy or has no study UID."""
    if settings.orthanc_url is None or resource.get("resourceType") != "ImagingStudy":
        return None
    uid = study_uid(resource)
    if uid is None:
        return None
    link = settings.ui_imaging_viewer.replace("{study_uid}", quote(uid, safe=""))
    return link if "://" in link else settings.orthanc_url.rstrip("/") + "/" + link.lstrip("/")
