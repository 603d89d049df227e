"""A STOW request body held back until it may be forwarded: in memory up to 1 MB, on disk beyond.

A clinic user storing to bare ``/studies`` names no study; the studies are known only from the parts themselves,
and Orthanc must not get a byte of them before every one is checked (Orthanc has no ACLs, and what it stores it
keeps). So the body is spooled while :class:`fhir_server.imaging.stow.PartSniffer` reads each part's UIDs, checked,
then sent on from the spool with its exact length. Memory stays bounded whatever the body's size.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Callable

IN_MEMORY = 1 << 20
PIECE = 1 << 18


class Spool:
    """A body written once (:meth:`fill`), then read once (:meth:`pieces`); closed after reading or by :meth:`close`."""

    def __init__(self) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=IN_MEMORY)  # noqa: SIM115 - closed by pieces()/close()
        self.size = 0

    async def fill(self, chunks: AsyncIterable[bytes], watch: Callable[[bytes], None]) -> None:
        """Write every chunk (each seen by ``watch`` first)."""
        async for chunk in chunks:
            watch(chunk)
            self._file.write(chunk)
            self.size += len(chunk)

    async def pieces(self) -> AsyncIterator[bytes]:
        """The body again, from the start, in pieces of :data:`PIECE` bytes."""
        try:
            self._file.seek(0)
            while piece := self._file.read(PIECE):
                yield piece
        finally:
            self.close()

    def close(self) -> None:
        self._file.close()
