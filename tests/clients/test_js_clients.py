"""The JavaScript clients from npm, ``fhir-kit-client`` and ``fhirclient`` (smart-on-fhir/client-js), against a
running server with a bearer token (tests/clients/conftest.py): a node script per client (tests/clients/js) runs read,
search with paging, create, update, patch and transaction through the client's own API and prints what each step saw
(or the client's error) as JSON, asserted here.

The packages are pinned by tests/clients/js/package-lock.json and installed by ``.ci/js_clients.sh`` (``npm ci``)
into a cache directory named by ``FHIR_SERVER_TEST_JS_CLIENTS`` (its ``node_modules``); without one the tests skip,
and fail in CI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.clients.conftest import Server

pytestmark = [pytest.mark.slow, pytest.mark.auth_enabled]
SCRIPTS = Path(__file__).with_name("js")
CACHED = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fhir-server-ci/js-clients/node_modules"
PAGED = 5


def _node_modules() -> Path:
    """Where the clients are installed: ``FHIR_SERVER_TEST_JS_CLIENTS``, else .ci/js_clients.sh's default place."""
    configured = os.environ.get("FHIR_SERVER_TEST_JS_CLIENTS")
    found = Path(configured) if configured else CACHED
    if shutil.which("node") and (found / "fhir-kit-client").is_dir() and (found / "fhirclient").is_dir():
        return found
    if os.environ.get("CI"):
        pytest.fail(f"node or the JavaScript clients are missing at {found}: .ci/js_clients.sh installs them")
    pytest.skip(f"the JavaScript clients are not installed at {found} (run .ci/js_clients.sh)")


def _run(script: str, server: Server, family: str, tmp_path: Path) -> dict[str, Any]:
    """Run ``script`` beside the installed packages (node resolves an ES module's imports from where it sits)."""
    for source in SCRIPTS.glob("*.mjs"):
        shutil.copy(source, tmp_path / source.name)
    (tmp_path / "node_modules").symlink_to(_node_modules(), target_is_directory=True)
    done = subprocess.run(
        ["node", str(tmp_path / script), server.base, server.token, family],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def _steps(report: dict[str, Any]) -> dict[str, Any]:
    """What each step saw; fails naming every step the client raised an error in."""
    errors = {name: step["error"] for name, step in report.items() if "error" in step}
    assert not errors, errors
    return {name: step["ok"] for name, step in report.items()}


@pytest.mark.parametrize("script", ["fhir_kit_client.mjs", "fhirclient.mjs"])
def test_a_javascript_client_reads_searches_writes_patches_and_posts_a_transaction(
    server: Server, tmp_path: Path, script: str
) -> None:
    family = script.removesuffix(".mjs").replace("_", "-")
    steps = _steps(_run(script, server, family, tmp_path))
    assert steps["create"]["versionId"] == "1"
    assert steps["read"] == {"id": steps["create"]["id"], "gender": "female"}
    assert steps["search"] == {"pages": [2, 2, 1], "total": PAGED}
    assert steps["update"] == {"versionId": "2", "birthDate": "1980-05-06"}
    assert steps["patch"] == {"versionId": "3", "active": True}
    assert steps["transaction"] == {"type": "transaction-response", "statuses": ["201 Created", "201 Created"]}
