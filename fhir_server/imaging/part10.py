"""The UIDs at the head of a DICOM Part-10 file (PS3.10 §7.1), read from its first bytes without a DICOM library.

The file meta (group 0002) is Explicit VR Little Endian; its Transfer Syntax UID (0002,0010) tells how the data
set that follows is encoded (PS3.5 §7.1, §10, Annex A): Implicit VR Little Endian, Explicit VR Big Endian (retired),
Deflated Explicit VR Little Endian (inflated here as far as needed), or Explicit VR Little Endian for every other
syntax (the native and encapsulated ones). A head cut before the element, or anything malformed, gives None:
callers treat "not found" as "not known", never as a match.
Elements are in ascending tag order (PS3.5 §7.1), so the walk stops at the first tag past the one asked for;
sequences of undefined length (PS3.5 §7.5) before it are skipped item by item.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

LONG_VRS = frozenset({b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"})
IMPLICIT_LE, DEFLATED, EXPLICIT_BE = "1.2.840.10008.1.2", "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2"
_UNDEFINED = 0xFFFFFFFF
_ITEM, _ITEM_END, _SEQUENCE_END = 0xFFFEE000, 0xFFFEE00D, 0xFFFEE0DD
STUDY_INSTANCE_UID = 0x0020000D
_MAX_DEPTH = 8


@dataclass(frozen=True)
class Head:
    """What the file meta says (SOP Class and Instance UIDs, transfer syntax) and where the data set starts."""

    sop_class: str | None
    sop_instance: str | None
    transfer_syntax: str | None
    data_set: int


def file_meta(body: bytes) -> Head | None:
    """The file meta of the Part-10 file at the start of ``body``; None when it is no Part-10 file."""
    if body[128:132] != b"DICM":
        return None
    values: dict[int, str] = {}
    pos = 132
    while pos + 8 <= len(body):
        group, element = struct.unpack_from("<HH", body, pos)
        if group != 0x0002:
            break
        vr = body[pos + 4 : pos + 6]
        if vr in LONG_VRS:
            if pos + 12 > len(body):
                break
            (length,) = struct.unpack_from("<I", body, pos + 8)
            pos += 12
        else:
            (length,) = struct.unpack_from("<H", body, pos + 6)
            pos += 8
        values[element] = _text(body[pos : pos + length])
        pos += length
    return Head(values.get(0x0002), values.get(0x0003), values.get(0x0010), pos)


def study_uid(body: bytes) -> str | None:
    """The StudyInstanceUID (0020,000D) of the Part-10 file whose first bytes are ``body``; None when unknown."""
    head = file_meta(body)
    if head is None:
        return None
    data = body[head.data_set :]
    try:
        if head.transfer_syntax == DEFLATED:
            data = zlib.decompressobj(-zlib.MAX_WBITS).decompress(data, 4 * len(body))
        walk = _Walk(data, head.transfer_syntax != IMPLICIT_LE, ">" if head.transfer_syntax == EXPLICIT_BE else "<")
        return walk.find(STUDY_INSTANCE_UID)
    except (struct.error, ValueError, zlib.error):
        return None


@dataclass(frozen=True)
class _Walk:
    """Elements of one data set encoding: explicit or implicit VR, little (``<``) or big (``>``) endian."""

    data: bytes
    explicit: bool
    order: str

    def find(self, wanted: int) -> str | None:
        pos = 0
        while pos + 8 <= len(self.data):
            tag, length, pos = self.element(pos)
            if tag == wanted:
                return _text(self.data[pos : pos + length]) if pos + length <= len(self.data) else None
            if tag > wanted:
                return None
            pos = self.skip_items(pos, 0) if length == _UNDEFINED else pos + length
        return None

    def element(self, pos: int) -> tuple[int, int, int]:
        """(tag, value length, value position) of the element at ``pos``."""
        group, element = struct.unpack_from(self.order + "HH", self.data, pos)
        tag = group << 16 | element
        if tag in (_ITEM, _ITEM_END, _SEQUENCE_END) or not self.explicit:
            (length,) = struct.unpack_from(self.order + "I", self.data, pos + 4)
            return tag, length, pos + 8
        if self.data[pos + 4 : pos + 6] in LONG_VRS:
            (length,) = struct.unpack_from(self.order + "I", self.data, pos + 8)
            return tag, length, pos + 12
        (length,) = struct.unpack_from(self.order + "H", self.data, pos + 6)
        return tag, length, pos + 8

    def skip_items(self, pos: int, depth: int) -> int:
        """The position after the sequence (of undefined length) whose items start at ``pos``."""
        if depth > _MAX_DEPTH:
            raise ValueError("sequences nested too deep")
        while True:
            tag, length, pos = self.element(pos)
            if tag == _SEQUENCE_END:
                return pos
            if tag != _ITEM:
                raise ValueError("no item in a sequence")
            pos = self.skip_item(pos, depth) if length == _UNDEFINED else pos + length

    def skip_item(self, pos: int, depth: int) -> int:
        """The position after an item of undefined length whose elements start at ``pos``."""
        while True:
            tag, length, pos = self.element(pos)
            if tag == _ITEM_END:
                return pos
            pos = self.skip_items(pos, depth + 1) if length == _UNDEFINED else pos + length


def _text(value: bytes) -> str:
    return value.rstrip(b"\x00 ").decode("ascii", "replace")
