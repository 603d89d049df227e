"""The JSON form of each R4 primitive (http://hl7.org/fhir/R4/datatypes.html#primitive, json.html#primitive)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from fhir_server.fhir.primitive_formats import is_base64, pattern, problem, shown

ACCEPTED: list[tuple[str, Any]] = [
    ("boolean", True),
    ("boolean", False),
    ("integer", -(2**31)),
    ("integer", 2**31 - 1),
    ("unsignedInt", 0),
    ("positiveInt", 1),
    ("decimal", 0),
    ("decimal", -1.5e-7),
    ("date", "2024"),
    ("date", "2024-02"),
    ("date", "2024-02-29"),
    ("dateTime", "2024-02-29T23:59:59.123456+14:00"),
    ("instant", "2024-02-29T23:59:60Z"),
    ("time", "08:30:00"),
    ("code", "in progress"),
    ("id", "a-Z.0"),
    ("oid", "urn:oid:1.2.840.10008"),
    ("uuid", "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"),
    ("uri", "urn:ietf:bcp:47"),
    ("url", "https://example.org/fhir"),
    ("canonical", "http://hl7.org/fhir/ValueSet/x|4.0.1"),
    ("base64Binary", "aGVsbG8="),
    ("string", "Chloé\u00a0Dubois\nline two\ttab"),
    ("string", "DEL \x7f and NEL \x85 are no C0 controls"),
    ("uri", "urn:x:\x01"),
    ("string", "no\u2003break \ufeff spaces are text"),
    ("markdown", "**bold**"),
    ("xhtml", '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'),
]
REFUSED: list[tuple[str, Any]] = [
    ("string", " "),
    ("string", "\ufeff\u00a0\n"),
    ("markdown", "\t"),
    ("code", "\u3000"),
    ("string", "a\x01b"),
    ("uri", "http://example.org/x\ufeff"),
    ("canonical", "http://example.org/\u00a0x"),
    ("code", "in\u2003progress"),
    ("string", "bell\x07"),
    ("markdown", "form\x0cfeed"),
    ("boolean", 1),
    ("boolean", "true"),
    ("integer", 2**31),
    ("integer", 1.0),
    ("integer", "1"),
    ("integer", True),
    ("unsignedInt", -1),
    ("positiveInt", 0),
    ("decimal", "1.5"),
    ("decimal", True),
    ("date", "2024-2-29"),
    ("date", "2024-02-29T10:00:00Z"),
    ("dateTime", "2024-02-29T10:00"),
    ("dateTime", "2024-02-29T10:00:00"),
    ("instant", "2024-02-29"),
    ("date", "2023-02-29"),
    ("dateTime", "2024-04-31T10:00:00Z"),
    ("instant", "2024-06-31T10:00:00Z"),
    ("time", "24:00:00"),
    ("code", " leading"),
    ("code", "two  spaces"),
    ("id", "x" * 65),
    ("id", "a/b"),
    ("oid", "urn:oid:01.2"),
    ("uuid", "urn:uuid:61EBE359-BFDC-4613-8BF2-C5E300945F0A"),
    ("uri", "has space"),
    ("base64Binary", "not base64!"),
    ("string", "vertical\x0btab"),
    ("string", "nul\x00"),
    ("string", 5),
    ("xhtml", None),
]


@pytest.mark.parametrize(("type_code", "value"), ACCEPTED)
def test_a_value_of_its_type_passes(type_code: str, value: Any) -> None:
    assert problem(type_code, value) is None


@pytest.mark.parametrize(("type_code", "value"), REFUSED)
def test_a_value_of_the_wrong_json_type_or_text_is_named(type_code: str, value: Any) -> None:
    assert problem(type_code, value) is not None


def test_values_are_quoted_escaped_and_cut() -> None:
    assert shown("a\x1b[2Jb\u202e") == "'a\\x1b[2Jb\\u202e'"
    assert len(shown("x" * 500)) == 60


def test_base64_is_checked_exactly_as_r4s_regex_says_without_its_backtracking() -> None:
    regex = pattern("base64Binary")
    assert regex is not None
    for text in [
        "",
        " ",
        "AAAA",
        "AA AA",
        "AAAA BBBB",
        " AAAA\n",
        "AAAAAAAA",
        "AAA",
        "AAAA=",
        "A/+=",
        "AA\x0bAA",
        "A!AA",
    ]:
        assert is_base64(text) == (regex.fullmatch(text) is not None), repr(text)
    assert is_base64(base64.b64encode(bytes(range(256)) * 20_000).decode())  # 6.8 MB of base64, in well under a second
