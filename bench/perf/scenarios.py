"""The scenarios: for each, the requests wrk sends (built from what the server holds) and how they are sent.

Reads and searches cycle through many subjects (every patient, every appointment); writes carry bodies built from
bench/search/synthetic.py. ``{{n}}`` in a body is replaced by wrk with a per-thread counter (lua/requests.lua),
so each create and each update carries a different value: an update always changes the resource.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from bench.perf.data import Subjects
from bench.perf.wrk import Request
from bench.search.synthetic import appointment_resource, patient_resource

COUNTER = "{{n}}"
FIRST_NEW_PATIENT = 50_000_000  # numbers of the patients the writes create: far from any loaded ones
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


@dataclass(frozen=True)
class Context:
    """What the builders need: the FHIR base path (``/fhir``), its full URL, and the subjects."""

    base_path: str
    base_url: str
    subjects: Subjects
    connections: int
    bundle_entries: int = 100


Builder = Callable[[Context], list[Request]]


@dataclass(frozen=True)
class Scenario:
    """One scenario: its name, the request it sends (for the table; ``{entries}`` is the Bundle size), how to
    build the requests, whether each request is a Bundle of ``bundle_entries`` resources, whether each wrk thread
    needs its own lines (updates), where it runs (``fhir``: auth disabled, ``auth``: the server with SMART
    authorization enabled, ``ceiling``), its connections when not the suite's, and how many times the suite's
    duration it runs (a 100-entry Bundle takes seconds: a short run would complete few) and whether it is warmed
    up first (an unfinished warm-up Bundle would still load the server during the measured run), and the scopes its
    backend-services token asks for (``auth`` scenarios)."""

    name: str
    request: str
    build: Builder
    bundle: bool = False
    updates: bool = False
    target: str = "fhir"
    connections: int | None = None
    duration_factor: int = 1
    warmup: bool = True
    scope: str = "system/*.rs"


def gets(context: Context, paths: list[str]) -> list[Request]:
    return [Request("GET", context.base_path + "/" + path) for path in paths]


def read(context: Context) -> list[Request]:
    return gets(context, [f"Patient/{p['id']}" for p in context.subjects.patients])


def clinic_read(context: Context) -> list[Request]:
    """Reads of the patients of the token's clinic (a system token sees only its clinic's)."""
    clinic = f"Organization/{context.subjects.organization}"
    mine = [p for p in context.subjects.patients if p.get("managingOrganization", {}).get("reference") == clinic]
    return gets(context, [f"Patient/{p['id']}" for p in mine or context.subjects.patients])


def vread(context: Context) -> list[Request]:
    paths = [f"Patient/{p['id']}/_history/{p.get('meta', {}).get('versionId', '1')}" for p in context.subjects.patients]
    return gets(context, paths)


def name_prefix(context: Context) -> list[Request]:
    families = [n["family"] for p in context.subjects.patients for n in p.get("name", [])[:1] if n.get("family")]
    return gets(context, [f"Patient?name={quote(family[:4])}" for family in families])


def identifier(context: Context) -> list[Request]:
    tokens = [
        f"{i['system']}|{i['value']}"
        for p in context.subjects.patients
        for i in p.get("identifier", [])[:1]
        if i.get("system") and i.get("value")
    ]
    return gets(context, [f"Patient?{urlencode({'identifier': token})}" for token in tokens])


def birthdate_range(context: Context) -> list[Request]:
    """A one-month birth-date range starting at each patient's birth date."""
    paths = []
    for patient in context.subjects.patients:
        if len(patient.get("birthDate", "")) == 10:
            start = date.fromisoformat(patient["birthDate"])
            end = start + timedelta(days=31)
            paths.append(f"Patient?birthdate=ge{start.isoformat()}&birthdate=lt{end.isoformat()}")
    return gets(context, paths)


def appointments_in_range(context: Context) -> list[Request]:
    """A patient's appointments in the month around one of them, with the patient included."""
    return gets(context, _month_around_appointments(context, "Appointment"))


def _month_around_appointments(context: Context, resource_type: str) -> list[str]:
    """Searches of ``resource_type`` for a subject's resources dated in the month around each of their appointments,
    with the patient included."""
    paths = []
    for patient, start in context.subjects.appointments:
        day = datetime.fromisoformat(start.replace("Z", "+00:00")).date()
        query = [("patient", f"Patient/{patient}"), ("date", f"ge{day - timedelta(days=15)}")]
        query += [("date", f"lt{day + timedelta(days=15)}"), ("_include", f"{resource_type}:patient")]
        paths.append(f"{resource_type}?{urlencode(query)}")
    return paths


def everything(context: Context) -> list[Request]:
    with_appointments = sorted({patient for patient, _ in context.subjects.appointments})
    ids = with_appointments or [p["id"] for p in context.subjects.patients]
    return gets(context, [f"Patient/{i}/$everything" for i in ids])


def new_patient(context: Context, number: int) -> dict[str, Any]:
    """A synthetic patient of the clinic, its identifier made unique per request by wrk's counter."""
    patient = patient_resource(FIRST_NEW_PATIENT + number)
    patient["identifier"][0]["value"] += "-" + COUNTER
    patient["managingOrganization"] = {"reference": f"Organization/{context.subjects.organization}"}
    return patient


def dumps(resource: dict[str, Any]) -> str:
    return json.dumps(resource, ensure_ascii=False, separators=(",", ":"))


def create(context: Context) -> list[Request]:
    return [Request("POST", f"{context.base_path}/Patient", dumps(new_patient(context, n))) for n in range(200)]


def heart_rate(patient_id: str, when: str, number: int) -> dict[str, Any]:
    """A heart-rate vital sign of the patient as US Core 3.1.1 shapes it (a resource of the store, not a clinic
    table), its identifier made unique per request by wrk's counter."""
    return {
        "resourceType": "Observation",
        "identifier": [{"system": "urn:oid:2.16.840.1.113883.3.4242.8", "value": f"obs-{number}-{COUNTER}"}],
        "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectiveDateTime": when,
        "valueQuantity": {
            "value": 60 + number % 40,
            "unit": "/min",
            "system": "http://unitsofmeasure.org",
            "code": "/min",
        },
    }


def create_observation(context: Context) -> list[Request]:
    """POSTs of heart rates of the loaded patients (the stored-type counterpart of ``create``)."""
    patients = [p["id"] for p in context.subjects.patients]
    bodies = [heart_rate(patients[n % len(patients)], f"2026-01-05T09:{n % 60:02d}:00Z", n) for n in range(200)]
    return [Request("POST", f"{context.base_path}/Observation", dumps(body)) for body in bodies]


def observations_in_range(context: Context) -> list[Request]:
    """``appointments_in_range`` for Observation, the stored type: first one heart rate is recorded at the start of
    each appointment of the subjects (so both searches find as many matches, spread alike), through transaction
    Bundles; then each request asks for a patient's observations in the month around one of them, with the
    patient included."""
    readings = [heart_rate(p, start, n) for n, (p, start) in enumerate(context.subjects.appointments)]
    for first in range(0, len(readings), context.bundle_entries):
        entries = [
            {
                "resource": json.loads(dumps(r).replace(COUNTER, "0")),
                "request": {"method": "POST", "url": "Observation"},
            }
            for r in readings[first : first + context.bundle_entries]
        ]
        with httpx.Client(timeout=600) as http:
            body = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
            http.post(context.base_url, json=body, headers={"Prefer": "return=minimal"}).raise_for_status()
    return gets(context, _month_around_appointments(context, "Observation"))


def transaction_bundle(context: Context, number: int, entries: int) -> dict[str, Any]:
    """A transaction Bundle of ``entries`` entries: patients, each followed by one appointment with a doctor."""
    doctors: list[str | None] = [*context.subjects.practitioners] or [None]
    found: list[dict[str, Any]] = []
    for index in range(entries // 2):
        full_url = f"urn:uuid:00000000-0000-4000-9000-{number * 1000 + index:012d}"
        patient = new_patient(context, number * 1000 + index)
        found.append({"fullUrl": full_url, "resource": patient, "request": {"method": "POST", "url": "Patient"}})
        start = datetime(2026, 1, 5, 9) + timedelta(days=index % 200, minutes=30 * (index % 12))
        doctor = doctors[index % len(doctors)]
        appointment = appointment_resource(full_url, doctor or full_url, start)
        if doctor is None:
            appointment["participant"] = appointment["participant"][:1]
        found.append({"resource": appointment, "request": {"method": "POST", "url": "Appointment"}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": found}


def transaction(context: Context) -> list[Request]:
    bundles = [transaction_bundle(context, n, context.bundle_entries) for n in range(8)]
    return [Request("POST", context.base_path, dumps(bundle)) for bundle in bundles]


def update(context: Context) -> list[Request]:
    """PUTs with If-Match of patients created for this run (four per connection), each changing the telecom."""
    count = max(16, 4 * context.connections)
    entries = []
    for n in range(count):
        patient = new_patient(context, 900_000 + n)
        patient["identifier"][0]["value"] = patient["identifier"][0]["value"].replace(COUNTER, str(n))
        entries.append({"resource": patient, "request": {"method": "POST", "url": "Patient"}})
    body = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    with httpx.Client(timeout=600) as http:
        response = http.post(context.base_url, json=body, headers={"Prefer": "return=representation"})
        response.raise_for_status()
    requests = []
    for entry in response.json()["entry"]:
        resource = dict(entry["resource"])
        resource.pop("meta", None)
        resource["telecom"] = [{"system": "phone", "value": f"555-{COUNTER}", "use": "home"}]
        path = f"{context.base_path}/Patient/{resource['id']}"
        requests.append(Request("PUT", path, dumps(resource), entry["resource"]["meta"]["versionId"]))
    return requests


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("ceiling", "GET /fhir/Patient/{id} (bare FastAPI + orjson)", read, target="ceiling"),
    Scenario("read", "GET Patient/{id}", read),
    Scenario("vread", "GET Patient/{id}/_history/{vid}", vread),
    Scenario("search-name", "GET Patient?name=<4-letter prefix>", name_prefix),
    Scenario("search-identifier", "GET Patient?identifier=<system|value>", identifier),
    Scenario("search-birthdate", "GET Patient?birthdate=ge..&birthdate=lt.. (1 month)", birthdate_range),
    Scenario(
        "search-appointments",
        "GET Appointment?patient=..&date=ge..&date=lt.. (1 month)&_include=Appointment:patient",
        appointments_in_range,
    ),
    Scenario(
        "search-observations",
        "GET Observation?patient=..&date=ge..&date=lt.. (1 month)&_include=Observation:patient (resource store)",
        observations_in_range,
    ),
    Scenario("everything", "GET Patient/{id}/$everything", everything),
    Scenario("create", "POST Patient", create),
    Scenario("create-observation", "POST Observation (a heart rate; resource store)", create_observation),
    Scenario("update", "PUT Patient/{id} with If-Match (own resources per connection)", update, updates=True),
    Scenario(
        "transaction",
        "POST transaction Bundle of {entries} entries (patients, each with an appointment)",
        transaction,
        bundle=True,
        connections=4,
        duration_factor=3,
        warmup=False,
    ),
    Scenario("read-auth", "GET Patient/{id}, SMART backend-services token (system/*.rs)", clinic_read, target="auth"),
    Scenario(
        "transaction-auth",
        "POST transaction Bundle of {entries} entries, SMART backend-services token (system/*.cruds)",
        transaction,
        bundle=True,
        target="auth",
        connections=4,
        duration_factor=3,
        warmup=False,
        scope="system/*.cruds",
    ),
)
"""Every scenario, in the order they run (reads first; the auth ones last: they restart the server with auth)."""

BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}
