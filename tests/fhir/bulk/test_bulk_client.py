"""SMART's own bulk client, ``smart-fetch`` (https://docs.smarthealthit.org/cumulus/fetch/), against a served server
(issue 17 item 8): a backend service authenticating with its asymmetric key exports the whole system, a Group (a
cohort: how smart-fetch exports a patient list) and every patient (Patient level, through smart-fetch's library: its
command line has no Patient level), through kick-off, status polls, downloads and its closing DELETE.
The downloaded files validate with the independent validator and hold exactly the resources the service's scopes
and clinic allow: its clinic's Patients, Observations and Conditions (smart-fetch's default ``_typeFilter`` keeps
Observations of the standard categories only), never another type (an Encounter is there) nor another clinic's data.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.backend_services import ES384
from tests.fhir_validator import run_validator, validator
from tests.served_backend import backend_client, backend_token, create_clinic, served_env
from tests.servers import serving

SMART_FETCH = str(Path(sys.executable).with_name("smart-fetch"))
SCOPE = "system/Patient.rs system/Observation.rs system/Condition.rs system/Group.rs"
TYPES = "Patient,Observation,Condition"
"""The types asked for (``--type``): the scope's (a type the token may not search is refused with a 403)."""


@pytest.fixture(scope="module")
def module_auth_mode() -> str:
    """A served server with authorization on (one per database kind)."""
    return "on"


@dataclass(frozen=True)
class Served:
    base: str
    client_id: str
    key_file: Path
    folder: Path


@pytest.fixture(scope="module")
def served(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("bulk-client")
    env = served_env(module_database_url, folder)
    with serving([], folder, env) as root:
        for clinic in ("Clinic A", "Clinic B"):
            create_clinic(module_database_url, clinic)
        exporter = backend_client(module_database_url, folder, "Clinic A", SCOPE, "Exporter")
        for clinic, data in (("Clinic A", _clinic_a()), ("Clinic B", _clinic_b())):
            writer = backend_client(module_database_url, folder, clinic, "system/*.cruds", f"Writer of {clinic}")
            _write(root, backend_token(root, writer, "system/*.cruds"), data)
        key = {**ES384.as_dict(private=True), "key_ops": ["sign"], "alg": "ES384"}
        key_file = folder / "private.jwks"
        key_file.write_text(json.dumps({"keys": [key]}))
        yield Served(f"{root}/fhir", exporter, key_file, folder)


def _observation(id_: str, patient: str, category: str | None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": id_,
        "status": "final",
        "code": {"text": "body weight"},
        "subject": {"reference": f"Patient/{patient}"},
    }
    if category is not None:
        system = "http://terminology.hl7.org/CodeSystem/observation-category"
        resource["category"] = [{"coding": [{"system": system, "code": category}]}]
    return resource


def _clinic_a() -> list[dict[str, Any]]:
    patients = [{"resourceType": "Patient", "id": p, "name": [{"family": p}]} for p in ("a1", "a2", "a3")]
    return [
        *patients,
        _observation("a1-weight", "a1", "vital-signs"),
        _observation("a2-lab", "a2", "laboratory"),
        _observation("a3-weight", "a3", "vital-signs"),
        _observation("a1-uncategorised", "a1", None),
        {
            "resourceType": "Condition",
            "id": "a1-asthma",
            "subject": {"reference": "Patient/a1"},
            "code": {"text": "asthma"},
        },
        {"resourceType": "Encounter", "id": "a1-visit", "status": "finished", "class": {"code": "AMB"}},
        {
            "resourceType": "Group",
            "id": "cohort",
            "type": "person",
            "actual": True,
            "member": [{"entity": {"reference": "Patient/a1"}}, {"entity": {"reference": "Patient/a2"}}],
        },
    ]


def _clinic_b() -> list[dict[str, Any]]:
    return [{"resourceType": "Patient", "id": "b1"}, _observation("b1-weight", "b1", "vital-signs")]


def _write(root: str, token: str, resources: list[dict[str, Any]]) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"{root}/fhir", headers=headers) as http:
        for resource in resources:
            response = http.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
            assert response.status_code == 201, response.text


def _smart_fetch(served: Served, name: str, *more: str) -> Path:
    """Run ``smart-fetch bulk`` as its users do (backend-services key, ``--type``); its output folder."""
    out = served.folder / name
    command = [SMART_FETCH, "bulk", "--fhir-url", served.base, "--smart-client-id", served.client_id]
    command += ["--smart-key", str(served.key_file), "--type", TYPES, "--no-compression", *more, str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


PATIENT_LEVEL = """
import asyncio, sys
import cumulus_fhir_support as cfs
from smart_fetch import bulk_utils, filtering, resources

async def main(base, client_id, key, out, types):
    client = cfs.FhirClient.create_for_cli(
        base, resources.SCOPE_TYPES, token_url=None, smart_client_id=client_id, smart_key=key,
        basic_user=None, basic_password=None, bearer_token=None,
    )
    async with client:
        filters = filtering.Filters(types.split(","), client=client, use_default_filters=True)
        await bulk_utils.perform_bulk(
            fhir_url=base + "/Patient", bulk_client=client, filters=filters, group="", workdir=out
        )

asyncio.run(main(*sys.argv[1:]))
"""
"""smart-fetch's own export (``bulk_utils.perform_bulk``) aimed at ``[base]/Patient``: its command line offers the
system and Group levels only, its library takes any export URL."""


def _smart_fetch_patients(served: Served) -> Path:
    out = served.folder / "patients"
    command = [sys.executable, "-c", PATIENT_LEVEL, served.base, served.client_id, str(served.key_file), str(out)]
    done = subprocess.run([*command, TYPES], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def _exported(out: Path) -> tuple[dict[str, set[str]], list[Path]]:
    """type -> ids of the resources in the downloaded NDJSON files, and the files."""
    files = [f for f in sorted(out.glob("*.ndjson")) if not f.name.startswith("log")]
    found: dict[str, set[str]] = {}
    for file in files:
        for line in file.read_bytes().splitlines():
            resource = orjson.loads(line)
            found.setdefault(resource["resourceType"], set()).add(resource["id"])
    return found, files


def _valid(files: list[Path]) -> None:
    """Every downloaded file, as it is, passes the independent validator."""
    process = run_validator(validator(), files)
    stdout, stderr = process.communicate(timeout=300)
    lines = stdout.splitlines()
    summary = re.fullmatch(r"(\d+) resources, (\d+) errors", lines[-1]) if lines else None
    assert summary and int(summary[2]) == 0, stdout + stderr


def test_smart_fetch_exports_the_whole_system_its_scopes_allow(served: Served) -> None:
    found, files = _exported(_smart_fetch(served, "system"))
    assert found == {
        "Patient": {"a1", "a2", "a3"},
        "Observation": {"a1-weight", "a2-lab", "a3-weight"},
        "Condition": {"a1-asthma"},
    }
    _valid(files)


def test_smart_fetch_exports_a_group_of_patients(served: Served) -> None:
    found, files = _exported(_smart_fetch(served, "group", "--group", "cohort"))
    assert found == {"Patient": {"a1", "a2"}, "Observation": {"a1-weight", "a2-lab"}, "Condition": {"a1-asthma"}}
    _valid(files)


def test_smart_fetch_exports_every_patient_at_patient_level(served: Served) -> None:
    found, files = _exported(_smart_fetch_patients(served))
    assert found == {
        "Patient": {"a1", "a2", "a3"},
        "Observation": {"a1-weight", "a2-lab", "a3-weight"},
        "Condition": {"a1-asthma"},
    }
    _valid(files)
