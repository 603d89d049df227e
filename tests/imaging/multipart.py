"""Building and reading ``multipart/related`` bodies (RFC 2387) for STOW-RS requests and WADO-RS answers."""

from __future__ import annotations

import uuid


def stow_body(parts: list[bytes], boundary: str | None = None) -> tuple[bytes, str]:
    """A STOW-RS request body of ``parts`` (each sent as application/dicom) and its Content-Type."""
    boundary = boundary or uuid.uuid4().hex
    body = b"".join(
        b"--" + boundary.encode() + b"\r\nContent-Type: application/dicom\r\n\r\n" + part + b"\r\n" for part in parts
    )
    body += b"--" + boundary.encode() + b"--\r\n"
    return body, f'multipart/related; type="application/dicom"; boundary={boundary}'


def split_parts(body: bytes, content_type: str) -> list[tuple[dict[str, str], bytes]]:
    """The (headers, content) of each part of a multipart answer."""
    boundary = next(
        p.split("=", 1)[1].strip().strip('"') for p in content_type.split(";") if p.strip().startswith("boundary=")
    )
    delimiter = b"--" + boundary.encode()
    parts = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, content = chunk.lstrip(b"\r\n").partition(b"\r\n\r\n")
        headers = dict(
            (k.strip().lower(), v.strip()) for k, _, v in (line.partition(":") for line in head.decode().split("\r\n"))
        )
        parts.append((headers, content.removesuffix(b"\r\n")))
    return parts
