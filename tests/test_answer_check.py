"""The answer check (tests/answer_check): a pytest session whose tests receive invalid FHIR from a server fails, with
a report naming the error, the resource and the test; valid answers, non-FHIR JSON, a Binary over 1 MB (a validator
false positive) and opted-out tests pass.

Each case runs an inner pytest session in a subprocess (so that the outer session's own check does not see its
bodies) over a small test file whose servers answer fixed bodies through each hooked HTTP library.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.answer_check import record
from tests.fhir_validator import validator

ROOT = Path(__file__).resolve().parent.parent
SERVERS = """
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import requests
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

VALID = b'{"resourceType": "Patient", "id": "ok", "gender": "female"}'
INVALID = b'{"resourceType": "Patient", "id": "bad", "gender": "woman"}'
FHIR = "application/fhir+json; fhirVersion=4.0"


def app(body, media_type=FHIR):
    async def answer(request):
        return Response(body, media_type=media_type)
    return Starlette(routes=[Route("/", answer)])


def served(body, media_type=FHIR):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", media_type)
            self.end_headers()
            self.wfile.write(body)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"
"""


def run_session(tmp_path: Path, tests: str, **environment: str) -> subprocess.CompletedProcess[str]:
    """Run pytest with the answer check over ``tests`` (after ``SERVERS``) with ``environment`` added; its outcome."""
    validator()
    (tmp_path / "test_inner.py").write_text(SERVERS + tests)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path), **environment}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "tests.answer_check.plugin", "-p", "no:randomly"]
    command += ["-p", "no:cacheprovider", "test_inner.py"]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_invalid_answer_through_test_client_fails_the_session(tmp_path: Path) -> None:
    done = run_session(
        tmp_path,
        "def test_reads_bad():\n    assert TestClient(app(INVALID)).get('/').status_code == 200\n",
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    assert 'Patient/bad Patient.gender: Value "woman" is not in required value set' in done.stdout, done.stdout
    assert "received by: test_inner.py::test_reads_bad" in done.stdout
    assert '"gender": "woman"' in done.stdout


def test_invalid_answers_through_requests_and_httpx_and_ndjson_lines_are_found(tmp_path: Path) -> None:
    tests = """
def test_requests():
    server, url = served(INVALID)
    assert requests.get(url).status_code == 200
    server.shutdown()


def test_httpx_stream():
    server, url = served(VALID + b"\\n" + INVALID.replace(b'"bad"', b'"line"') + b"\\n", "application/fhir+ndjson")
    with httpx.stream("GET", url) as answer:
        assert len(list(answer.iter_lines())) == 2
    server.shutdown()
"""
    done = run_session(tmp_path, tests)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "3 distinct FHIR bodies" in done.stdout, done.stdout
    assert "2 errors of 1 kinds" in done.stdout
    assert "received by: test_inner.py::test_requests" in done.stdout or "test_httpx_stream" in done.stdout


def test_valid_answers_and_plain_json_pass(tmp_path: Path) -> None:
    tests = """
def test_reads():
    assert TestClient(app(VALID)).get('/').status_code == 200
    assert TestClient(app(b'{"gender": "woman"}', "application/json")).get('/').status_code == 200
    assert TestClient(app(INVALID, "application/dicom+json")).get('/').status_code == 200
    binary = b'{"resourceType": "Binary", "contentType": "text/plain", "data": "' + b"QUJD" * 300_000 + b'"}'
    assert TestClient(app(binary)).get('/').status_code == 200
"""
    done = run_session(tmp_path, tests)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 distinct FHIR bodies (2 resources) validated" in done.stdout
    assert "no errors" in done.stdout


def test_a_marked_test_is_not_checked_and_needs_a_reason(tmp_path: Path) -> None:
    tests = """
@pytest.mark.unvalidated_answers(reason="a fixed invalid body of a fake upstream")
def test_opted_out():
    assert TestClient(app(INVALID)).get('/').status_code == 200
"""
    assert run_session(tmp_path, tests).returncode == 0
    unexplained = tests.replace('reason="a fixed invalid body of a fake upstream"', "")
    done = run_session(tmp_path, unexplained)
    assert done.returncode != 0
    assert "needs a reason=" in done.stdout + done.stderr


@pytest.mark.parametrize("ci", ["", "1"])
def test_without_the_validator_it_is_skipped_locally_and_fails_in_ci(tmp_path: Path, ci: str) -> None:
    absent = str(tmp_path / "absent.mjs")
    reads = "def test_reads():\n    assert TestClient(app(INVALID)).get('/').status_code == 200\n"
    done = run_session(tmp_path, reads, FHIR_SERVER_TEST_FHIR_VALIDATOR=absent, CI=ci)
    assert done.returncode == (1 if ci else 0), done.stdout + done.stderr
    assert "FHIR_SERVER_TEST_FHIR_VALIDATOR" in done.stdout


def test_the_log_keeps_each_document_once_across_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(record, "CHUNK_LINES", 2)
    log = record.AnswerLog(tmp_path)
    bundle = b'{"resourceType": "Bundle",\n "type": "searchset"}'
    for n in range(5):
        log.add(b'{"resourceType": "Patient", "id": "p%d"}' % n, "application/fhir+json", f"test_{n}")
    log.add(b'{"resourceType": "Patient", "id": "p1"}', "application/fhir+json; charset=utf-8", "test_again")
    log.add(bundle, "application/json", "test_bundle")
    log.add(b'{"access_token": "x"}', "application/json", "test_token")
    log.add(
        b'{"resourceType": "Patient", "id": "p9"}\n\n{"resourceType": "Patient", "id": "p3"}\n',
        "application/fhir+ndjson",
        "test_ndjson",
    )
    log.close()
    assert [path.name for path in log.chunks()] == [f"answers-{n}.ndjson" for n in range(4)]
    assert log.receipts[1].tests == ["test_1", "test_again"]
    assert log.receipts[3].tests == ["test_3", "test_ndjson"]
    assert log.documents({5, 6}) == {
        5: b'{"resourceType": "Bundle",  "type": "searchset"}',
        6: b'{"resourceType": "Patient", "id": "p9"}',
    }
    assert log.number(2, 2) == 5
