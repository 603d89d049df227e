"""OperationOutcome ``diagnostics`` and ``expression`` are valid FHIR strings (issue 15, item 4): whatever a client
puts in an id, a search parameter, a header or a body (NUL, other C0 controls, DEL, C1 controls, lone surrogates,
very long values), the answer is a 4xx OperationOutcome whose strings hold no control character other than tab, CR
and LF, are never empty, are at most a bound long, and which the independent R4 validator accepts."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from fhir_server.errors import MAX_TEXT, printable
from tests.authorized_client import fhir_client
from tests.fhir.interactions.conftest import PUBLIC_BASE_URL
from tests.fhir_validator import validator_errors

_FHIR_STRING = re.compile(r"[ \r\n\t\S]+")
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_NASTY = ["\x00", "\x01", "\x1b", "\x0b", "\x7f", "\x85", "\ud800"]
"""NUL, other C0 controls (SOH, ESC, VT), DEL, a C1 control (NEL) and a lone surrogate."""
_JSON = {"Content-Type": "application/fhir+json"}


@pytest.fixture(scope="module")
def module_client(module_database_url: str, module_auth_mode: str) -> Iterator[TestClient]:
    with fhir_client(module_database_url, module_auth_mode, base_url=PUBLIC_BASE_URL) as client:
        yield client


def _url_text(text: str) -> str:
    """``text`` percent-encoded as UTF-8 (a lone surrogate as the bytes Python would write for it)."""
    return "".join(f"%{b:02X}" for b in text.encode("utf-8", "surrogatepass"))


def _json_body(resource: dict[str, Any]) -> bytes:
    """``resource`` as JSON text with every non-ASCII character escaped (``\\ud800`` too, which orjson refuses)."""
    return json.dumps(resource, ensure_ascii=True).encode()


def _outcome(response: Any) -> dict[str, Any]:
    """The OperationOutcome of a 4xx answer, its strings checked as valid FHIR strings."""
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    outcome: dict[str, Any] = orjson.loads(response.content)
    assert outcome["resourceType"] == "OperationOutcome", outcome
    for issue in outcome["issue"]:
        texts = [issue["diagnostics"]] if "diagnostics" in issue else []
        for text in [*texts, *issue.get("expression", [])]:
            assert _FHIR_STRING.fullmatch(text) and not _FORBIDDEN.search(text), repr(text)
            assert len(text) <= MAX_TEXT
    return outcome


def _all_valid(outcomes: list[dict[str, Any]], tmp_path: Path) -> None:
    numbered = [{**outcome, "id": f"probe-{n}"} for n, outcome in enumerate(outcomes)]
    assert validator_errors(numbered, tmp_path) == []


def test_a_bad_id_is_echoed_escaped(module_client: TestClient, tmp_path: Path) -> None:
    outcomes = []
    for nasty in _NASTY:
        outcome = _outcome(module_client.get(f"/fhir/Patient/a{_url_text(nasty)}b"))
        outcomes.append(outcome)
        shown = printable(f"a{nasty}b") if nasty != "\ud800" else "a\ufffd\ufffd\ufffdb"  # not UTF-8: replaced
        assert shown in outcome["issue"][0]["diagnostics"]
    _all_valid(outcomes, tmp_path)


def test_a_bad_search_parameter_or_value_is_echoed_escaped(module_client: TestClient, tmp_path: Path) -> None:
    outcomes = []
    for nasty in _NASTY:
        text = _url_text(nasty)
        for query in (f"fam{text}ily=x", f"birthdate=19{text}80", f"gender:{text}=male", f"_sort={text}"):
            outcomes.append(_outcome(module_client.get(f"/fhir/Patient?{query}")))
    outcome = _outcome(module_client.get(f"/fhir/Patient?{'x' * 5000}=1"))
    assert outcome["issue"][0]["expression"][0].endswith("...")
    outcomes.append(outcome)
    _all_valid(outcomes, tmp_path)


def test_a_bad_header_is_echoed_escaped(module_client: TestClient, tmp_path: Path) -> None:
    outcomes = []
    for nasty in ("\x7f", "\x85", "\xff"):
        accept = f"text/x{nasty}y".encode("latin-1")
        outcomes.append(_outcome(module_client.get("/fhir/Patient", headers={b"Accept": accept})))
        content_type = f"text/x{nasty}y".encode("latin-1")
        response = module_client.post("/fhir/Patient", content=b"{}", headers={b"Content-Type": content_type})
        outcomes.append(_outcome(response))
    _all_valid(outcomes, tmp_path)


def test_a_bad_body_is_echoed_escaped(module_client: TestClient, tmp_path: Path) -> None:
    outcomes = []
    for nasty in _NASTY:
        for resource in (
            {"resourceType": "Patient", f"g{nasty}": "male"},
            {"resourceType": "Patient", "gender": f"m{nasty}le"},
            {"resourceType": "Patient", "birthDate": f"19{nasty}80"},
            {"resourceType": f"Pat{nasty}ient"},
        ):
            response = module_client.post("/fhir/Patient", content=_json_body(resource), headers=_JSON)
            outcomes.append(_outcome(response))
    _all_valid(outcomes, tmp_path)


def test_printable_escapes_controls_cuts_long_text_and_empties_blank_text() -> None:
    assert printable("a\x00b\x1f\x7f\x85\ud800\tc\r\n") == "a\\x00b\\x1f\\x7f\\x85\\ud800\tc\r\n"
    assert printable("é ü 日本") == "é ü 日本"
    assert printable(" \t\n") == ""
    assert printable("\ufeff\u3000\u00a0") == ""  # blank as JavaScript's trim (and so the validator) sees it
    cut = printable("x" * (MAX_TEXT + 10))
    assert len(cut) == MAX_TEXT and cut.endswith("...")
