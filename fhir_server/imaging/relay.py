"""Orthanc's answer to a proxied request, relayed to the client.

- A small answer with a known length (a QIDO match list, metadata of a series) is read whole and sent as one
  response with its exact length: one write downstream, no chunked framing, no streaming task.
- Anything else streams in the pieces the socket reads delivered (aiohttp's ``iter_chunks``: no re-chunking, no
  joining, no copies in Python), so a study of any size crosses the proxy in constant memory. Bodies are relayed
  untouched, except JSON and XML (which may hold RetrieveURL / BulkDataURI values), whose Orthanc URLs are
  rewritten on the fly.
- Orthanc sends a retrieved study without a length, ending it by closing the connection; an early close would
  look like a complete answer, so a multipart answer must end with its closing delimiter (RFC 2046 §5.1.1) or the
  client's connection is broken off too, never ended cleanly. A transport failure mid-answer does the same.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import aiohttp
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from fhir_server.imaging import media
from fhir_server.imaging.rewrite import PrefixRewriter
from fhir_server.imaging.upstream import read_closing, upstream_of

logger = logging.getLogger("fhir_server.imaging.proxy")
PASSED_HEADERS = ("content-type", "content-length", "content-encoding", "warning", "etag", "last-modified")
WHOLE_LIMIT = 1 << 20
"""Answers of at most this many bytes (by their Content-Length) are read whole before they are sent."""


class UpstreamBrokeError(Exception):
    """Orthanc failed in the middle of an answer already under way: the connection is dropped, not ended."""


async def relayed(request: Request, response: aiohttp.ClientResponse) -> Response:
    """The client's response for Orthanc's (open) ``response``, which this takes over and releases."""
    content_type = response.headers.get("content-type")
    rewriter = rewriter_of(request) if media.carries_urls(content_type) else None
    headers = {k: v for k in PASSED_HEADERS if (v := response.headers.get(k)) is not None}
    length = response.content_length
    if length is not None and length <= WHOLE_LIMIT:
        body = await read_closing(response)
        headers.pop("content-length", None)  # the response sets the length of what it sends
        return Response(rewriter.whole(body) if rewriter else body, response.status, headers)
    if rewriter is not None:
        headers.pop("content-length", None)
    ending = _closing_delimiter(response, content_type)
    return StreamingResponse(_pieces(response, rewriter, ending), response.status, headers)


def rewriter_of(request: Request) -> PrefixRewriter:
    """Orthanc's URL prefix (as built from our ``Forwarded`` header) -> this proxy's DICOMweb base."""
    return PrefixRewriter(*upstream_of(request).url_prefixes)


def _closing_delimiter(response: aiohttp.ClientResponse, content_type: str | None) -> bytes | None:
    """The delimiter a close-delimited multipart answer must end with (None: the framing itself tells the end)."""
    if response.content_length is not None or "chunked" in response.headers.get("transfer-encoding", "").lower():
        return None
    parsed = media.multipart_type(content_type)
    return b"--" + parsed[1].encode("latin-1") + b"--" if parsed and parsed[1] else None


async def _pieces(
    response: aiohttp.ClientResponse, rewriter: PrefixRewriter | None, ending: bytes | None
) -> AsyncIterator[bytes]:
    tail = b""
    try:
        async for piece, _ in response.content.iter_chunks():
            if ending is not None:
                tail = (tail + piece[-len(ending) - 8 :])[-len(ending) - 8 :]
            yield rewriter.feed(piece) if rewriter else piece
        if ending is not None and not tail.rstrip(b"\r\n").endswith(ending):
            logger.warning("Orthanc closed a multipart answer before its end; dropping the connection")
            raise UpstreamBrokeError("the multipart answer ended before its closing delimiter")
        if rewriter is not None:
            yield rewriter.flush()
    except (aiohttp.ClientError, TimeoutError) as exc:
        logger.warning("Orthanc failed mid-answer; dropping the connection", extra={"error": type(exc).__name__})
        raise UpstreamBrokeError(type(exc).__name__) from None
    finally:
        response.release()
