"""Rewriting Orthanc's own URLs to this proxy's, on the fly (a streamed answer is never held whole).

Orthanc builds RetrieveURL and BulkDataURI from the request's ``Forwarded`` header and its own DICOMweb root
; the proxy sends ``Forwarded: host=<public host>;proto=<public scheme>``, so every such URL starts
with ``<scheme>://<host><orthanc root>``, which :class:`PrefixRewriter` turns into ``<public base>/dicomweb/``.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def forwarded(base_url: str) -> str:
    """The RFC 7239 ``Forwarded`` header value that makes Orthanc build URLs on the public host."""
    parts = urlsplit(base_url)
    return f"host={parts.netloc};proto={parts.scheme}"  # unquoted, the form Orthanc 1.10 was seen to honour


def upstream_prefix(base_url: str, orthanc_root: str) -> bytes:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}{orthanc_root}".encode()


class PrefixRewriter:
    """Replaces ``old`` by ``new`` in a byte stream fed in chunks; holds back at most ``len(old) - 1`` bytes."""

    def __init__(self, old: bytes, new: bytes) -> None:
        self.old = old
        self.new = new
        self._tail = b""

    def feed(self, chunk: bytes) -> bytes:
        if self.old == self.new:
            return chunk
        data = self._tail + chunk
        cut = len(data) - (len(self.old) - 1)
        out: list[bytes] = []
        pos = 0
        while (found := data.find(self.old, pos)) != -1:
            out += [data[pos:found], self.new]
            pos = found + len(self.old)
        end = max(pos, cut)
        out.append(data[pos:end])
        self._tail = data[end:]
        return b"".join(out)

    def flush(self) -> bytes:
        tail, self._tail = self._tail, b""
        return tail

    def whole(self, body: bytes) -> bytes:
        return self.feed(body) + self.flush()
