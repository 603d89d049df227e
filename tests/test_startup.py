"""Start-up as a new user meets it (issue 16, item 4): the base URL follows --host/--port, proxies are believed only
when trusted, the start-up log names the URLs and the database, bad ports and missing SQLite files are refused
clearly, and --help shows flags as flags."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from fhir_server.cli import app
from fhir_server.settings import SettingsError, load_settings
from fhir_server.startup import StartupError, listening_base_url, report
from tests.servers import CLI, _wait_until_alive, free_port

runner = CliRunner()
UNREACHABLE = "postgresql+psycopg://nobody@127.0.0.1:1/none"


@contextmanager
def serving_without_base_url(database_url: str, cwd: Path, **settings: str) -> Iterator[tuple[str, list[str]]]:
    """`fhir-server serve --port P` with no FHIR_SERVER_BASE_URL; yields the root URL and, once stopped, the
    process's log lines in the list."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("FHIR_SERVER_")}
    env = {**clean, "FHIR_SERVER_DATABASE_URL": database_url, **settings}
    process = subprocess.Popen(
        [CLI, "serve", "--port", str(port)], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    lines: list[str] = []
    try:
        _wait_until_alive(process, f"http://127.0.0.1:{port}")
        yield f"http://127.0.0.1:{port}", lines
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
        lines.extend(output.decode().splitlines())


def _logged(lines: list[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in lines if line.startswith("{")]


@pytest.mark.slow
def test_the_base_url_follows_the_port_when_unset(database_url: str, tmp_path: Path) -> None:
    with serving_without_base_url(database_url, tmp_path, FHIR_SERVER_AUTH="enabled") as (root, lines):
        base = f"{root}/fhir"
        smart = httpx.get(f"{base}/.well-known/smart-configuration").json()
        assert smart["issuer"] == base and smart["token_endpoint"].startswith(f"{base}/")
        metadata = httpx.get(f"{base}/metadata", headers={"Accept": "application/fhir+json"}).json()
        assert metadata["implementation"]["url"] == base
        refused = httpx.get(f"{base}/Patient")
        assert refused.status_code == 401 and f'realm="{base}"' in refused.headers["WWW-Authenticate"]
    messages = [str(line["message"]) for line in _logged(lines)]
    assert "Application startup complete." in messages  # uvicorn's records, one JSON line each, without colours
    assert not [line for line in lines if "color_message" in line or "\\u001b" in line or "\x1b" in line]
    assert f"FHIR base: {base}" in messages
    assert f"UI: {root}/" in messages and f"docs: {root}/docs" in messages
    assert any(m.startswith("the database ") and m.endswith(" answers") for m in messages)


@pytest.mark.slow
@pytest.mark.parametrize(("trusted", "client"), [("", "127.0.0.1"), ("127.0.0.0/8", "203.0.113.9")])
def test_forwarded_headers_are_believed_only_from_trusted_proxies(
    database_url: str, tmp_path: Path, trusted: str, client: str
) -> None:
    settings = {"FHIR_SERVER_TRUSTED_PROXIES": trusted} if trusted else {}
    with serving_without_base_url(database_url, tmp_path, **settings) as (root, lines):
        httpx.get(f"{root}/health", headers={"X-Forwarded-For": "203.0.113.9", "X-Request-ID": "forwarded-probe"})
    probe = [line for line in _logged(lines) if line.get("request_id") == "forwarded-probe"]
    assert [line["client"] for line in probe] == [client]


def test_a_trusted_proxy_must_be_an_address_or_range() -> None:
    with pytest.raises(SettingsError, match="FHIR_SERVER_TRUSTED_PROXIES"):
        load_settings(trusted_proxies="10.0.0.0/8 proxy.example")
    assert load_settings(trusted_proxies="10.0.0.0/8, ::1").trusted_proxy_list == ["10.0.0.0/8", "::1"]


@pytest.mark.parametrize(
    ("host", "base"),
    [("0.0.0.0", "http://127.0.0.1:81/fhir"), ("::1", "http://[::1]:81/fhir")],  # noqa: S104
)
def test_a_wildcard_or_ipv6_host_gives_a_usable_base(host: str, base: str) -> None:
    assert listening_base_url(host, 81) == base


def test_the_start_up_report_names_the_urls_and_the_database(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fhir_server.startup")
    report(load_settings(database_url=database_url, base_url="https://fhir.example.org/r4"))
    messages = [record.getMessage() for record in caplog.records]
    assert messages[:3] == [
        "FHIR base: https://fhir.example.org/r4",
        "UI: https://fhir.example.org/",
        "docs: https://fhir.example.org/docs",
    ]
    assert messages[3].endswith(" answers")


def test_an_unreachable_orthanc_is_logged_with_the_reason(database_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="fhir_server.startup")
    report(load_settings(database_url=database_url, orthanc_url=f"http://127.0.0.1:{free_port()}"))
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "does not answer: " in warnings[0]


def test_serve_refuses_to_start_when_the_database_is_down() -> None:
    with pytest.raises(StartupError, match=r"cannot reach the database .*Connection refused"):
        report(load_settings(database_url=UNREACHABLE))
    result = runner.invoke(app, ["serve"], env={"FHIR_SERVER_DATABASE_URL": UNREACHABLE})
    assert result.exit_code == 1 and "cannot reach the database" in result.output


@pytest.mark.parametrize("port", ["0", "65536", "99999"])
def test_a_port_outside_1_to_65535_is_refused(port: str) -> None:
    result = runner.invoke(app, ["serve", "--port", port])
    assert result.exit_code == 2 and "Invalid value for '--port'" in result.output


@pytest.mark.parametrize("command", [["users", "list"], ["clinics", "list"], ["db", "current"], ["seed", "--demo"]])
def test_a_missing_sqlite_file_is_named_not_created(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, command, env={"FHIR_SERVER_DATABASE_URL": "sqlite:///fhir-server.db"})
    assert result.exit_code == 1
    assert f"no database at {tmp_path / 'fhir-server.db'}:" in " ".join(result.output.split())
    assert not (tmp_path / "fhir-server.db").exists()


def test_db_upgrade_creates_the_missing_sqlite_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"FHIR_SERVER_DATABASE_URL": "sqlite:///fhir-server.db"}
    assert runner.invoke(app, ["db", "upgrade"], env=env).exit_code == 0
    result = runner.invoke(app, ["users", "list"], env=env)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "command", [["serve"], ["reindex"], ["seed"], ["clients", "create"], ["db", "upgrade"], ["users", "create"]]
)
def test_help_shows_flags_as_flags(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0
    assert "<bool>" not in result.output
    flag_lines = [line.split() for line in result.output.splitlines() if line.strip().startswith("--help")]
    assert flag_lines and flag_lines[0][:2] == ["--help", "Show"]
