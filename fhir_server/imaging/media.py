"""Media types on the DICOMweb proxy: the ``Accept`` sent to Orthanc and which answers carry URLs to rewrite.

PS3.18 §8.7.3: a retrieve without a transfer-syntax parameter asks for Explicit VR Little Endian, which makes
Orthanc transcode (a JPEG study grows 30-fold). Unless the client names a transfer syntax, this proxy asks
for ``transfer-syntax=*`` (as stored). Orthanc answers frames and bulk data asked as ``type="*/*"``
(dicomweb-client's default) with 400, so that range becomes ``application/octet-stream``.
"""

from __future__ import annotations

from fhir_server.errors import FhirError

_DEFAULTS = {
    "": 'multipart/related; type="application/dicom"; transfer-syntax=*',
    "frames": 'multipart/related; type="application/octet-stream"; transfer-syntax=*',
    "bulk": 'multipart/related; type="application/octet-stream"; transfer-syntax=*',
}
_BINARY_TYPES = ("application/dicom", "application/octet-stream", "*/*")
_REWRITTEN = ("application/dicom+json", "application/json", "application/dicom+xml")
DICOM_JSON = "application/dicom+json"


def retrieve_accept(accept: str | None, view: str) -> str | None:
    """The Accept to send Orthanc for a retrieve of ``view`` ("" objects, frames, bulk, metadata, rendered...)."""
    if view not in _DEFAULTS:
        return accept
    ranges = [r.strip() for r in (accept or "").split(",") if r.strip()]
    if not ranges or all(r.split(";", 1)[0].strip() == "*/*" for r in ranges):
        return _DEFAULTS[view]
    return ", ".join(_as_stored(r, view) for r in ranges)


def _as_stored(media_range: str, view: str) -> str:
    params = [p.strip() for p in media_range.split(";")]
    if params[0].lower() != "multipart/related":
        return media_range
    if any(p.lower().startswith("transfer-syntax=") for p in params[1:]):
        return media_range
    types = [p.split("=", 1)[1].strip().strip('"').lower() for p in params[1:] if p.lower().startswith("type=")]
    if types and types[0] not in _BINARY_TYPES:
        return media_range
    if view in ("frames", "bulk") and types and types[0] == "*/*":
        params = [p for p in params if not p.lower().startswith("type=")]
        params.insert(1, 'type="application/octet-stream"')
    return "; ".join([*params, "transfer-syntax=*"])


def search_accept(accept: str | None) -> None:
    """QIDO answers are served as ``application/dicom+json`` only (PS3.18 §8.7.3.4 makes JSON the default)."""
    if not accept:
        return
    types = {r.split(";", 1)[0].strip().lower() for r in accept.split(",")}
    if types & {DICOM_JSON, "application/json", "*/*", "application/*"}:
        return
    raise FhirError.of(406, "not-supported", f"searches are answered as {DICOM_JSON} only (asked for {accept})")


def carries_urls(content_type: str | None) -> bool:
    """True for answers that may hold RetrieveURL / BulkDataURI values (JSON and XML, alone or in multipart)."""
    value = (content_type or "").lower()
    return any(t in value for t in _REWRITTEN)


def multipart_type(content_type: str | None) -> tuple[str, str] | None:
    """(type, boundary) of a ``multipart/related`` Content-Type; None for anything else."""
    if not content_type:
        return None
    params = [p.strip() for p in content_type.split(";")]
    if params[0].lower() != "multipart/related":
        return None
    values = {}
    for param in params[1:]:
        name, _, value = param.partition("=")
        values[name.strip().lower()] = value.strip().strip('"')
    return values.get("type", ""), values.get("boundary", "")
