"""``python -m tests.jobs.cli_with_test_kinds ARGS``: the ``fhir-server`` command with the tests' job kind
registered (tests.jobs.kinds), for the tests that run ``serve`` and ``worker`` as processes."""

from __future__ import annotations

import tests.jobs.kinds  # noqa: F401 - registers the kind
from fhir_server.cli import app

if __name__ == "__main__":
    app(prog_name="fhir-server")
