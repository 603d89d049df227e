"""The pytest side: record every FHIR body the tests receive (see :mod:`tests.answer_check`), validate them all when
the session ends, and fail the session (exit status 1) with a report if the validator finds any error.

Without ``FHIR_SERVER_TEST_FHIR_VALIDATOR`` the check is skipped locally (with a line in the summary) and fails the
session under CI, as tests/fhir_validator.py does. A test that deliberately receives invalid FHIR from something that
is not the server is marked ``@pytest.mark.unvalidated_answers(reason=...)``: what it receives is not recorded.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Generator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.answer_check.capture import capturing
from tests.answer_check.record import AnswerLog
from tests.answer_check.verdict import Verdict, judge, report
from tests.fhir_validator import MISSING_IN_CI, MISSING_LOCALLY, installed_validator

OUTSIDE_TESTS = "(outside any test)"
MARKER = "unvalidated_answers"


@dataclass
class AnswerCheck:
    """The session's recording: the log, the test now running (None while an opted-out test runs)."""

    script: str
    log: AnswerLog
    current: str | None = OUTSIDE_TESTS
    hooks: ExitStack = field(default_factory=ExitStack)
    summary: list[str] = field(default_factory=list)

    def receive(self, body: bytes, content_type: str) -> None:
        if self.current is not None:
            self.log.add(body, content_type, self.current)


CHECK = pytest.StashKey[AnswerCheck]()
SUMMARY = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MARKER}(reason): what this test receives is not validated (why)")
    script = installed_validator()
    if script is None:
        config.stash[SUMMARY] = [MISSING_IN_CI if os.environ.get("CI") else f"not checked: {MISSING_LOCALLY}"]
        return
    check = AnswerCheck(script, AnswerLog(Path(tempfile.mkdtemp(prefix="fhir-answers-"))))
    check.hooks.enter_context(capturing(check.receive))
    config.stash[CHECK] = check


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """Attribute what the test receives (in set-up, call and tear-down) to it, unless it is marked ``MARKER``."""
    check = item.config.stash.get(CHECK, None)
    if check is None:
        return (yield)
    marker = item.get_closest_marker(MARKER)
    if marker is not None and not marker.kwargs.get("reason"):
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.{MARKER} needs a reason=")
    check.current = None if marker is not None else item.nodeid
    try:
        return (yield)
    finally:
        check.current = OUTSIDE_TESTS


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Validate what was received; on any error (or a missing validator under CI) the session fails."""
    check = session.config.stash.get(CHECK, None)
    if check is None:
        if os.environ.get("CI"):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
        return
    check.hooks.close()
    check.log.close()
    if exitstatus == pytest.ExitCode.INTERRUPTED or not check.log.receipts:
        shutil.rmtree(check.log.directory, ignore_errors=True)
        return
    verdict = judge(check.log, check.script)
    session.config.stash[SUMMARY] = _summary(verdict, check.log)
    if verdict.findings or verdict.failures:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    else:
        shutil.rmtree(check.log.directory, ignore_errors=True)


def _summary(verdict: Verdict, log: AnswerLog) -> list[str]:
    rate = verdict.resources / verdict.seconds if verdict.seconds else 0.0
    lines = [
        f"{len(log.receipts)} distinct FHIR bodies ({verdict.resources} resources) validated in "
        f"{verdict.seconds:.1f} s ({rate:.0f} resources/s)"
    ]
    if not (verdict.findings or verdict.failures):
        return [*lines, "no errors"]
    full = log.directory / "report.txt"
    full.write_text("\n".join(report(verdict, log, limit=None)) + "\n")
    return [*lines, *report(verdict, log), f"full report: {full}; the bodies: {log.directory}/answers-*.ndjson"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    lines = config.stash.get(SUMMARY, None)
    if lines:
        terminalreporter.section("FHIR answers through the independent R4 validator")
        for line in lines:
            terminalreporter.write_line(line)
