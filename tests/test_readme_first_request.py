"""The README's "Your first request" walkthrough, run as written (issue 16 item 2): its ``sh`` blocks, in order, in one
bash against `fhir-server serve --demo`; the browser step of the by-hand code flow is walked by an HTTP client, and
the code it yields is typed in where the walkthrough asks for it. Every curl must answer 2xx."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from fhir_server.seed import DEMO_PHYSICIAN_EMAIL
from tests.auth.test_real_clients import _walk
from tests.servers import serving

pytestmark = [pytest.mark.slow, pytest.mark.auth_enabled]
README = Path(__file__).parent.parent / "README.md"
LOCAL_BASE = "http://127.0.0.1:8080"
STRICT = 'set -euo pipefail\ncurl() { command curl --fail-with-body "$@"; echo; }\n'


def walkthrough() -> list[str]:
    """The ``sh`` blocks of the section "Your first request"."""
    text = README.read_text()
    section = text.split("\n## Your first request\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^```sh\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)


def documents(text: str) -> list[dict[str, Any]]:
    """The JSON documents printed one after the other in ``text``."""
    decoder, at = json.JSONDecoder(), 0
    found: list[dict[str, Any]] = []
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at == len(text):
            return found
        document, at = decoder.raw_decode(text, at)
        found.append(document)


def test_the_walkthrough_has_the_three_ways() -> None:
    script = "\n".join(walkthrough())
    for command in ("fhir-server token", "--generate-key", "clients assertion", "code_challenge", "read -r"):
        assert command in script


def test_the_readme_walkthrough_runs(database_url: str, tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        if os.environ.get("CI"):
            pytest.fail("curl is missing: .ci/curl.sh installs Debian's curl")
        pytest.skip("the walkthrough needs curl")
    env = {"FHIR_SERVER_DATABASE_URL": database_url, "FHIR_SERVER_LOG_LEVEL": "warning"}
    with serving(["--demo"], tmp_path, env) as root:
        script = STRICT + "\n".join(walkthrough()).replace(LOCAL_BASE, root)
        clean = {k: v for k, v in os.environ.items() if not k.startswith("FHIR_SERVER_")}
        shell_env = {**clean, **env, "FHIR_SERVER_BASE_URL": f"{root}/fhir"}
        shell_env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{shell_env.get('PATH', '')}"
        bash = subprocess.Popen(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=shell_env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert bash.stdin is not None and bash.stdout is not None
        printed = []
        for line in bash.stdout:
            printed.append(line)
            if "/auth/authorize?" in line:
                break
        else:
            pytest.fail(f"the walkthrough printed no authorize URL: {''.join(printed)} {bash.stderr}")
        with httpx.Client() as browser:
            landed = _walk(browser, printed[-1].strip(), DEMO_PHYSICIAN_EMAIL)
        bash.stdin.write(httpx.URL(landed).params["code"] + "\n")
        bash.stdin.close()
        rest, errors = bash.stdout.read(), bash.stderr.read() if bash.stderr else ""
        assert bash.wait(timeout=120) == 0, "".join(printed) + rest + errors
    outputs = documents("".join(printed[:-1]) + rest)
    kinds = [o.get("resourceType", "json") for o in outputs]
    assert kinds == ["json", "Bundle", "json", "Bundle", "Patient"], kinds  # configuration, search, token, ...
    assert outputs[2]["patient"] and outputs[2]["scope"] == "openid fhirUser patient/*.rs"
    assert outputs[4]["id"] and (tmp_path / "my-backend.pem").stat().st_mode & 0o777 == 0o600
