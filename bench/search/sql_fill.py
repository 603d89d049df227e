# ruff: noqa: S608 - the SQL is built from this file's own constants and integers, never from input
"""Fill a PostgreSQL database with many patients and appointments straight by SQL, to read query plans at scale.

Not a benchmark of the load: the server's own path (``bench.search.load``, transaction Bundles, indexing on write)
takes hours for a million patients. This writes the same shapes the server writes (``resource_history`` rows with
the served JSON, and the ``search_*`` index rows the indexer derives from them: names, phonetics, identifiers,
gender, birth date, managing organization; appointment status, types, participants and start) with
``INSERT ... SELECT`` over ``generate_series``, then rebuilds the indexes and runs ANALYZE. Patient ``i`` gets the
name, birth date and identifier of ``bench.search.synthetic.synthetic_patient(i)``'s families, givens and ranges,
but drawn by hashing in SQL, so the subjects of a query must be picked from the database (see ``--show``).

Usage, from the repository root, on a database ``fhir-server db upgrade`` created (and nothing else in it)::

    .venv/bin/python -m bench.search.sql_fill --database-url postgresql://postgres@127.0.0.1:5432/fhir_big \
        --patients 1000000 [--appointments 2] [--batch 250000]

Indexes of the filled tables are dropped first and created again at the end (as ``pg_indexes`` defined them), so
the fill does not pay for random B-tree inserts.
"""

from __future__ import annotations

import argparse
import time
import uuid

import psycopg

from bench.search.synthetic import FAMILIES, GIVENS, IDENTIFIER_SYSTEM, PRACTITIONERS
from fhir_server.fhir.search.text import normalize, soundex

TABLES = ("resource_history", "search_string", "search_token", "search_date", "search_reference")
CLINIC = uuid.UUID("00000000-0000-4000-8000-00000000c11c")
ORGANIZATION_ID = "00000000-0000-4000-8000-000000000001"
MRN_SYSTEM = "http://fhir-server.dev/fhir/sid/mrn"
WRITTEN = "timestamptz '2026-11-01 00:00:00+00'"  # lastUpdated of every filled version (plus i milliseconds)


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="a libpq URL (postgresql://...)")
    parser.add_argument("--patients", type=int, required=True)
    parser.add_argument("--appointments", type=int, default=2, help="appointments per patient")
    parser.add_argument("--batch", type=int, default=250_000, help="patients per INSERT round")
    return parser.parse_args(argv)


def _array(values: list[str]) -> str:
    return "ARRAY[" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + "]::text[]"


def _pick(column: str, values: list[str], salt: str, i: str = "i") -> str:
    """Element of ``values`` chosen by hashing patient number ``i`` with ``salt`` (deterministic)."""
    return f"({_array(values)})[1 + abs(hashtext('{salt}' || {i})) % {len(values)}]"


def _patient_id(i: str) -> str:
    return f"md5('patient-' || {i})::uuid::text"


def _appointment_id(i: str, k: str) -> str:
    return f"md5('appointment-' || {i} || '-' || {k})::uuid::text"


def _practitioner_id(n: str) -> str:
    return f"md5('practitioner-' || {n})::uuid::text"


def _family(field: str) -> str:
    values = {"exact": list(FAMILIES), "normalized": [normalize(f) for f in FAMILIES]}
    values["soundex"] = [soundex(f) for f in FAMILIES]
    return _pick("f", values[field], "family")


def _given(field: str) -> str:
    values = {"exact": list(GIVENS), "normalized": [normalize(g) for g in GIVENS]}
    values["soundex"] = [soundex(g) for g in GIVENS]
    return _pick("g", values[field], "given")


SERVICE_TYPE = (
    ("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB", "ambulatory"),
    ("http://fhir-server.dev/fhir/CodeSystem/visit-type", "in-clinic", "In clinic"),
)
VISIT_TYPE = (
    ("http://terminology.hl7.org/CodeSystem/v2-0276", "FOLLOWUP", "A follow up visit from a previous appointment"),
    ("http://fhir-server.dev/fhir/CodeSystem/visit-category", "follow-up", "Follow-up"),
)


def _concept(codings: tuple[tuple[str, str, str], ...]) -> str:
    """A CodeableConcept of ``codings`` (system, code, display), as the appointment mapping serves them."""
    items = ", ".join(
        f"jsonb_build_object('system', '{system}', 'code', '{code}', 'display', '{display}')"
        for system, code, display in codings
    )
    return f"jsonb_build_object('coding', jsonb_build_array({items}))"


def _text(text: str | None) -> str:
    return "NULL::text" if text is None else "'" + text.replace("'", "''") + "'"


BIRTH = "(date '1935-01-01' + abs(hashtext('birth' || i)) % 32850)"
START = (
    "(timestamptz '2025-01-06 00:00:00+00' + (abs(hashtext('day' || i || '-' || k)) % 730) * interval '1 day'"
    " + interval '8 hours' + (abs(hashtext('slot' || i || '-' || k)) % 18) * interval '30 minutes')"
)


def patient_sql(lo: int, hi: int) -> list[str]:
    """Statements adding patients ``lo`` .. ``hi - 1`` with their index rows."""
    series = f"generate_series({lo}, {hi - 1}) AS i"
    pid = _patient_id("i")
    updated = f"{WRITTEN} + i * interval '1 millisecond'"
    resource = (
        f"jsonb_build_object('resourceType', 'Patient', 'id', {pid}, 'meta', jsonb_build_object('versionId', '1',"
        f" 'lastUpdated', to_char(({updated}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')),"
        " 'identifier', jsonb_build_array("
        f"jsonb_build_object('system', '{IDENTIFIER_SYSTEM}', 'value', 'B' || lpad(i::text, 9, '0')),"
        " jsonb_build_object('use', 'usual', 'type', jsonb_build_object('coding', jsonb_build_array("
        "jsonb_build_object('system', 'http://terminology.hl7.org/CodeSystem/v2-0203', 'code', 'MR'))),"
        f" 'system', '{MRN_SYSTEM}', 'value', 'CLI-2026-' || lpad(i::text, 7, '0'))),"
        f" 'name', jsonb_build_array(jsonb_build_object('family', {_family('exact')},"
        f" 'given', jsonb_build_array({_given('exact')}))),"
        " 'gender', (ARRAY['female','male','other','unknown'])[1 + i % 4],"
        f" 'birthDate', to_char({BIRTH}, 'YYYY-MM-DD'),"
        f" 'managingOrganization', jsonb_build_object('reference', 'Organization/{ORGANIZATION_ID}'))"
    )
    strings = " UNION ALL ".join(
        f"SELECT {pid}, '{param}', {value('normalized') if param != 'phonetic' else value('soundex')},"
        f" {value('exact') if param != 'phonetic' else value('soundex')} FROM {series}"
        for param, value in (
            ("family", _family),
            ("given", _given),
            ("name", _family),
            ("name", _given),
            ("phonetic", _family),
            ("phonetic", _given),
        )
    )
    tokens = (
        f"SELECT {pid}, 'deceased', NULL, 'false' FROM {series} UNION ALL "
        f"SELECT {pid}, 'gender', 'http://hl7.org/fhir/administrative-gender',"
        f" (ARRAY['female','male','other','unknown'])[1 + i % 4] FROM {series} UNION ALL "
        f"SELECT {pid}, 'identifier', '{IDENTIFIER_SYSTEM}', 'B' || lpad(i::text, 9, '0') FROM {series} UNION ALL "
        f"SELECT {pid}, 'identifier', '{MRN_SYSTEM}', 'CLI-2026-' || lpad(i::text, 7, '0') FROM {series} UNION ALL "
        f"SELECT {pid}, 'identifier:of-type', 'http://terminology.hl7.org/CodeSystem/v2-0203|MR',"
        f" 'CLI-2026-' || lpad(i::text, 7, '0') FROM {series}"
    )
    return [
        "INSERT INTO resource_history (resource_type, resource_id, version_id, organization_id, last_updated,"
        f" method, resource) SELECT 'Patient', {pid}, 1, '{CLINIC}', {updated}, 'create', {resource} FROM {series}",
        "INSERT INTO search_string (resource_type, resource_id, version_id, param, normalized, exact)"
        f" SELECT 'Patient', s.id, 1, s.param, s.normalized, s.exact"
        f" FROM ({strings}) AS s(id, param, normalized, exact)",
        "INSERT INTO search_token (resource_type, resource_id, version_id, param, system, code)"
        f" SELECT 'Patient', t.id, 1, t.param, t.system, t.code FROM ({tokens}) AS t(id, param, system, code)",
        "INSERT INTO search_date (resource_type, resource_id, version_id, param, low, high)"
        f" SELECT 'Patient', {pid}, 1, 'birthdate', {BIRTH}::timestamp AT TIME ZONE 'UTC',"
        f" ({BIRTH} + 1)::timestamp AT TIME ZONE 'UTC' - interval '1 microsecond' FROM {series}",
        "INSERT INTO search_reference (resource_type, resource_id, version_id, param, target_type, target_id)"
        f" SELECT 'Patient', {pid}, 1, 'organization', 'Organization', '{ORGANIZATION_ID}' FROM {series}",
    ]


def appointment_sql(lo: int, hi: int, per_patient: int) -> list[str]:
    """Statements adding the appointments of patients ``lo`` .. ``hi - 1`` with their index rows."""
    series = f"generate_series({lo}, {hi - 1}) AS i, generate_series(1, {per_patient}) AS k"
    aid, pid = _appointment_id("i", "k"), _patient_id("i")
    doctor = _practitioner_id(f"(abs(hashtext('doctor' || i || '-' || k)) % {PRACTITIONERS})")
    updated = f"{WRITTEN} + i * interval '1 millisecond' + k * interval '1 microsecond'"
    stamp = '\'YYYY-MM-DD"T"HH24:MI:SS"Z"\''
    resource = (
        f"jsonb_build_object('resourceType', 'Appointment', 'id', {aid}, 'meta', jsonb_build_object('versionId',"
        f" '1', 'lastUpdated', to_char(({updated}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')),"
        f" 'status', 'booked', 'start', to_char({START} AT TIME ZONE 'UTC', {stamp}),"
        f" 'end', to_char(({START} + interval '30 minutes') AT TIME ZONE 'UTC', {stamp}), 'minutesDuration', 30,"
        f" 'serviceType', jsonb_build_array({_concept(SERVICE_TYPE)}), 'appointmentType', {_concept(VISIT_TYPE)},"
        " 'participant', jsonb_build_array("
        f"jsonb_build_object('actor', jsonb_build_object('reference', 'Patient/' || {pid}), 'status', 'accepted'),"
        f" jsonb_build_object('actor', jsonb_build_object('reference', 'Practitioner/' || {doctor}),"
        " 'status', 'accepted')))"
    )
    token_rows = (
        *(("appointment-type", system, code, normalize(display)) for system, code, display in VISIT_TYPE),
        ("part-status", "http://hl7.org/fhir/participationstatus", "accepted", None),
        ("part-status", "http://hl7.org/fhir/participationstatus", "accepted", None),
        *(("service-type", system, code, normalize(display)) for system, code, display in SERVICE_TYPE),
        ("status", "http://hl7.org/fhir/appointmentstatus", "booked", None),
    )
    tokens = " UNION ALL ".join(
        f"SELECT {aid}, '{param}', '{system}', '{code}', {_text(text)} FROM {series}"
        for param, system, code, text in token_rows
    )
    references = " UNION ALL ".join(
        f"SELECT {aid}, '{param}', '{kind}', {target} FROM {series}"
        for param, kind, target in (
            ("actor", "Patient", pid),
            ("actor", "Practitioner", doctor),
            ("patient", "Patient", pid),
            ("practitioner", "Practitioner", doctor),
        )
    )
    return [
        "INSERT INTO resource_history (resource_type, resource_id, version_id, organization_id, last_updated,"
        f" method, resource) SELECT 'Appointment', {aid}, 1, '{CLINIC}', {updated}, 'create', {resource}"
        f" FROM {series}",
        "INSERT INTO search_token (resource_type, resource_id, version_id, param, system, code, text)"
        f" SELECT 'Appointment', t.id, 1, t.param, t.system, t.code, t.text"
        f" FROM ({tokens}) AS t(id, param, system, code, text)",
        "INSERT INTO search_date (resource_type, resource_id, version_id, param, low, high)"
        f" SELECT 'Appointment', {aid}, 1, 'date', {START}, {START} + interval '999999 microseconds' FROM {series}",
        "INSERT INTO search_reference (resource_type, resource_id, version_id, param, target_type, target_id)"
        f" SELECT 'Appointment', r.id, 1, r.param, r.kind, r.target FROM ({references}) AS r(id, param, kind, target)",
    ]


def fixed_sql() -> list[str]:
    """The clinic's Organization and its practitioners (once)."""
    organization = (
        f"jsonb_build_object('resourceType', 'Organization', 'id', '{ORGANIZATION_ID}', 'meta',"
        " jsonb_build_object('versionId', '1', 'lastUpdated', '2026-11-01T00:00:00.000Z'), 'name', 'Bench clinic')"
    )
    doctor = _practitioner_id("n")
    practitioner = (
        f"jsonb_build_object('resourceType', 'Practitioner', 'id', {doctor}, 'meta', jsonb_build_object("
        "'versionId', '1', 'lastUpdated', '2026-11-01T00:00:00.000Z'), 'name', jsonb_build_array("
        "jsonb_build_object('family', 'Doctor' || n, 'prefix', jsonb_build_array('Dr.'))))"
    )
    return [
        "INSERT INTO resource_history (resource_type, resource_id, version_id, organization_id, last_updated,"
        f" method, resource) VALUES ('Organization', '{ORGANIZATION_ID}', 1, '{CLINIC}', {WRITTEN}, 'create',"
        f" {organization})",
        "INSERT INTO resource_history (resource_type, resource_id, version_id, organization_id, last_updated,"
        f" method, resource) SELECT 'Practitioner', {doctor}, 1, '{CLINIC}', {WRITTEN}, 'create', {practitioner}"
        f" FROM generate_series(0, {PRACTITIONERS - 1}) AS n",
    ]


def drop_indexes(connection: psycopg.Connection) -> list[str]:
    """Drop the non-key indexes of the filled tables; the statements that create them again."""
    rows = connection.execute(
        "SELECT i.indexname, i.indexdef, c.conname FROM pg_indexes i LEFT JOIN pg_constraint c"
        " ON c.conname = i.indexname WHERE i.tablename = ANY(%s) AND c.contype IS DISTINCT FROM 'p'",
        (list(TABLES),),
    ).fetchall()
    again = []
    for name, definition, constraint in rows:
        if constraint is not None:
            table = definition.split(" ON ", 1)[1].split(" ", 1)[0]
            columns = definition[definition.index("(") :]
            connection.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
            again.append(f"ALTER TABLE {table} ADD CONSTRAINT {name} UNIQUE {columns}")
        else:
            connection.execute(f"DROP INDEX {name}")
            again.append(definition)
    return again


def run(connection: psycopg.Connection, statement: str) -> None:
    started = time.perf_counter()
    connection.execute(statement)
    print(f"{time.perf_counter() - started:7.1f}s  {statement[:90]}", flush=True)


def main(argv: list[str] | None = None) -> None:
    options = arguments(argv)
    with psycopg.connect(options.database_url, autocommit=True) as connection:
        again = drop_indexes(connection)
        for statement in fixed_sql():
            run(connection, statement)
        for lo in range(0, options.patients, options.batch):
            hi = min(options.patients, lo + options.batch)
            for statement in patient_sql(lo, hi) + appointment_sql(lo, hi, options.appointments):
                run(connection, statement)
        for statement in again:
            run(connection, statement)
        for table in TABLES:
            run(connection, f"VACUUM ANALYZE {table}")


if __name__ == "__main__":
    main()
