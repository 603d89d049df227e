"""The independent FHIR R4 validator of ../shared/tools/fhir-validator (Node, @medplum/core's ``validateResource``
with the R4 definitions, plus required bindings), for tests that check what the server answers is valid R4.

``.ci/validator.sh`` installs it and sets ``FHIR_SERVER_TEST_VALIDATOR`` to its directory. Without it the tests
that use it are skipped locally and fail under CI, as the PostgreSQL tests are (tests/conftest.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest

VALIDATOR_ENV = "FHIR_SERVER_TEST_VALIDATOR"


def _script() -> Path:
    directory = os.environ.get(VALIDATOR_ENV)
    if directory and (Path(directory) / "validate.mjs").is_file() and shutil.which("node"):
        return Path(directory) / "validate.mjs"
    if os.environ.get("CI"):
        pytest.fail(f"{VALIDATOR_ENV} does not name an installed FHIR validator: .ci/validator.sh installs it")
    pytest.skip(f"needs the FHIR validator ({VALIDATOR_ENV}; .ci/validator.sh installs it)")


def validation_errors(resource: dict[str, Any]) -> list[str]:
    """The validator's error lines for ``resource`` (a Bundle: its envelope and every entry); empty when valid."""
    done = subprocess.run(
        ["node", str(_script()), "--errors-only", "-"],
        input=orjson.dumps(resource),
        capture_output=True,
        timeout=300,
        check=False,
    )
    output = done.stdout.decode()
    if done.returncode not in (0, 1) or "resources," not in output:
        pytest.fail(f"the FHIR validator failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
    return [line for line in output.splitlines() if "\terror\t" in line]
