"""The independent FHIR R4 validator of the shared tools (``validate.mjs``: @medplum/core's ``validateResource``
and an offline required-binding check), run on what the server serves, as a second opinion beside our own checks.

``FHIR_SERVER_TEST_FHIR_VALIDATOR`` names its ``validate.mjs`` (the test command .ci/test installs it). Without it
the test is skipped locally and fails under CI, so CI never passes without the second opinion.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest

VALIDATOR_ENV = "FHIR_SERVER_TEST_FHIR_VALIDATOR"


MISSING_IN_CI = f"{VALIDATOR_ENV} does not name the FHIR validator: CI must run it"
MISSING_LOCALLY = f"the FHIR validator tests need {VALIDATOR_ENV} (the test command .ci/test sets it)"


def installed_validator() -> str | None:
    """The path of ``validate.mjs`` if ``FHIR_SERVER_TEST_FHIR_VALIDATOR`` names an existing file, else None."""
    path = os.environ.get(VALIDATOR_ENV)
    return path if path and Path(path).is_file() else None


def validator() -> str:
    """The path of ``validate.mjs``; skips (locally) or fails (CI) when it is not installed."""
    path = installed_validator()
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail(MISSING_IN_CI)
    pytest.skip(MISSING_LOCALLY)


def run_validator(script: str, sources: list[Path]) -> subprocess.Popen[str]:
    """Start ``node validate.mjs --errors-only`` on the files ``sources`` (one line per error, then the summary line
    ``N resources, E errors``); the caller waits for it (``communicate``)."""
    command = ["node", script, "--errors-only", *map(str, sources)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def validator_errors(resources: list[dict[str, Any]], tmp_path: Path) -> list[str]:
    """The errors the validator finds in ``resources`` (one line each: ``Type/id``, severity, element, message)."""
    script = validator()
    source = tmp_path / "resources.ndjson"
    source.write_bytes(b"\n".join(orjson.dumps(r) for r in resources) + b"\n")
    done = subprocess.run(
        ["node", script, "--errors-only", str(source)], capture_output=True, text=True, timeout=300, check=False
    )
    lines = done.stdout.splitlines()
    summary = re.fullmatch(r"(\d+) resources, (\d+) errors", lines[-1]) if lines else None
    # a Bundle counts as itself and each entry's resource
    assert summary and int(summary[1]) >= len(resources), done.stdout + done.stderr
    assert int(summary[2]) == len(lines) - 1, done.stdout + done.stderr
    return lines[:-1]
