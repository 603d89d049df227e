"""Importing a server's data into an empty server reproduces it: the demo clinic (mapped types and the resource store,
reference cycles included), every resource equal apart from ``meta`` and the server-assigned MRN."""

from __future__ import annotations

import shutil
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from fhir_server.cli import app
from fhir_server.db import ResourceHistory
from fhir_server.db.engine import Database
from mappings.patient import MRN_SYSTEM
from tests.conftest import _admin_execute, _database_url, _postgres_admin_url

runner = CliRunner()


@pytest.fixture
def empty_server_url(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A second fresh, migrated database of the same kind as ``database_url``."""
    if database_url.startswith("sqlite"):
        path = tmp_path / "target.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    admin_url, name = _postgres_admin_url(), f"fhir_test_{uuid.uuid4().hex[:12]}"
    _admin_execute(admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{request.getfixturevalue("postgres_template")}"')
    yield _database_url(admin_url, name)
    _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def cli(url: str, *args: str) -> str:
    result = runner.invoke(app, list(args), env={"FHIR_SERVER_DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    return result.output


def current_resources(url: str) -> dict[str, list[dict[str, Any]]]:
    """Every live resource's current version by type, as a Bulk export's files hold them."""
    database = Database(url)
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    try:
        with database.read() as session:
            query = select(ResourceHistory).where(ResourceHistory.superseded_at.is_(None))
            for version in session.scalars(query.where(ResourceHistory.method != "delete")):
                assert version.resource is not None
                found[version.resource_type].append(version.resource)
    finally:
        database.dispose()
    return found


def comparable(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource apart from what each server sets itself: ``meta`` and the Patient's MRN."""
    kept = {k: v for k, v in resource.items() if k != "meta"}
    if resource["resourceType"] == "Patient":
        kept["identifier"] = [i for i in kept.get("identifier", []) if i.get("system") != MRN_SYSTEM]
    return kept


def by_id(resources: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    return {f"{t}/{r['id']}": comparable(r) for t, rs in resources.items() for r in rs}


def test_an_import_of_every_resource_into_an_empty_server_reproduces_them(
    database_url: str, empty_server_url: str, tmp_path: Path
) -> None:
    cli(database_url, "seed", "--demo")
    exported = current_resources(database_url)
    files = tmp_path / "export"
    files.mkdir()
    for resource_type, resources in exported.items():  # one file per type, each in reverse order
        lines = [orjson.dumps(r) for r in reversed(resources)]
        (files / f"{resource_type}.ndjson").write_bytes(b"\n".join(lines) + b"\n")
    clinic = exported["Patient"][0]["managingOrganization"]["reference"].removeprefix("Organization/")
    cli(empty_server_url, "clinics", "create", "--name", "Migrated", "--fhir-id", clinic)  # the clinic's own id
    for fhir_id, refusal in [(clinic, f"Organization/{clinic} already exists"), ("no id!", "is not a FHIR id")]:
        refused = runner.invoke(app, ["clinics", "create", "--name", "Other", "--fhir-id", fhir_id],
                                env={"FHIR_SERVER_DATABASE_URL": empty_server_url})  # fmt: skip
        assert refused.exit_code == 1 and refusal in refused.output, refused.output

    output = cli(empty_server_url, "import", str(files))

    total = sum(len(r) for r in exported.values())
    assert f"{total} lines: {total} resources written, 0 lines failed" in output
    assert {"Patient", "Appointment", "QuestionnaireResponse", "Observation", "Encounter"} <= set(exported)
    assert by_id(current_resources(empty_server_url)) == by_id(exported)
