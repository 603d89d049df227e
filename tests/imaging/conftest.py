"""Fixtures of the imaging tests: a real Orthanc, two clinics with patients, the app wired to both.

Orthanc is started once per session (stopping it costs 2-3 s) and emptied before each test that uses it. Without
Debian's ``orthanc`` and ``orthanc-dicomweb`` these tests are skipped locally and fail under CI (``.ci/test``
installs them through ``.ci/orthanc.sh``), like the PostgreSQL half of the suite.
"""

from __future__ import annotations

import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydicom.data import get_testdata_file

from fhir_server.app import create_app
from fhir_server.db import Organization, Patient
from fhir_server.db.engine import Database
from fhir_server.settings import Settings, load_settings
from tests.imaging.orthanc_process import OrthancProcess, available, free_port
from tests.imaging.scoped_access import context, patient_token, token_table, user_token

CT = "CT_small.dcm"  # PatientID 1CT1, clinic A
MR = "MR_small.dcm"  # PatientID 4MR1, clinic A
NM = "JPEG2000.dcm"  # PatientID 8NM1, clinic B
US = "examples_ybr_color.dcm"  # PatientID 204, 30 JPEG frames, known to no clinic
CT_STUDY = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
MR_STUDY = "1.3.6.1.4.1.5962.1.2.4.20040826185059.5457"
NM_STUDY = "1.3.6.1.4.1.5962.1.2.8.20040826185059.5457"


def dicom_file(name: str) -> Path:
    path = get_testdata_file(name)
    assert isinstance(path, str), f"pydicom has no test file {name}"
    return Path(path)


def dicom_bytes(name: str) -> bytes:
    return dicom_file(name).read_bytes()


@pytest.fixture(scope="session")
def orthanc() -> Iterator[OrthancProcess]:
    if not available():
        if os.environ.get("CI"):
            pytest.fail("Orthanc is not installed: CI must run the imaging tests (.ci/orthanc.sh installs it)")
        pytest.skip("the imaging tests need Debian's orthanc and orthanc-dicomweb packages")
    server = OrthancProcess()
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:  # a CI timeout still stops Orthanc
        server.remove()
        signal.signal(signal.SIGTERM, previous)
        os.kill(os.getpid(), signum)

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_sigterm)
    server.start()
    yield server
    server.remove()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, previous)


@pytest.fixture
def empty_orthanc(orthanc: OrthancProcess) -> OrthancProcess:
    if orthanc.process is None or orthanc.process.poll() is not None:
        orthanc.start()  # a fault test may have killed it
    orthanc.clear()
    return orthanc


@dataclass(frozen=True)
class Clinics:
    """Clinic A (patients 1CT1, 4MR1) and clinic B (patient 8NM1): ids and patients' FHIR ids by MRN."""

    a: uuid.UUID
    b: uuid.UUID
    patients: dict[str, str]
    patient_rows: dict[str, uuid.UUID]


@pytest.fixture
def clinics(database: Database) -> Clinics:
    a, b = uuid.uuid4(), uuid.uuid4()
    patients: dict[str, str] = {}
    rows: dict[str, uuid.UUID] = {}
    with database.write() as session:
        session.add_all(
            [
                Organization(id=a, name="Clinic A", timezone="America/New_York"),
                Organization(id=b, name="Clinic B", timezone="Europe/Berlin"),
            ]
        )
        session.flush()
        for clinic, mrn, family in ((a, "1CT1", "Tomo"), (a, "4MR1", "Reso"), (b, "8NM1", "Nuclear")):
            row = Patient(id=uuid.uuid4(), fhir_id=str(uuid.uuid4()), organization_id=clinic, mrn=mrn)
            row.family_name, row.given_name = family, "Pat"
            session.add(row)
            patients[mrn], rows[mrn] = row.fhir_id, row.id
    return Clinics(a, b, patients, rows)


def imaging_settings(database_url: str, orthanc: OrthancProcess, base_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database_url,
        "orthanc_url": orthanc.url,
        "orthanc_username": orthanc.auth[0],
        "orthanc_password": orthanc.auth[1],
        "base_url": base_url,
        "imaging_watch": False,
        "orthanc_timeout": 10.0,
        **overrides,
    }
    return load_settings(**values)


TOKENS = ("a-user", "b-user", "ct-patient", "nm-patient", "a-reader", "no-imaging", "unbound")


def install_tokens(app: FastAPI, clinics: Clinics) -> None:
    """Bearer tokens of the tests: clinic users, patients, a read-only user, one without imaging scopes."""
    token_table(
        app,
        {
            "a-user": user_token(clinics.a),
            "b-user": user_token(clinics.b),
            "a-reader": user_token(clinics.a, "user/ImagingStudy.rs"),
            "no-imaging": user_token(clinics.a, "user/Patient.rs"),
            "unbound": context("system/*.cruds", None, client_id="backend"),
            "ct-patient": patient_token(clinics.patients["1CT1"], clinics.a),
            "nm-patient": patient_token(clinics.patients["8NM1"], clinics.b),
        },
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def proxy(
    database_url: str, database: Database, empty_orthanc: OrthancProcess, clinics: Clinics
) -> Iterator[TestClient]:
    """The app (watcher off) behind a TestClient, with the tokens of :func:`install_tokens`."""
    settings = imaging_settings(database_url, empty_orthanc, "http://testserver/fhir")
    app = create_app(settings, database)
    install_tokens(app, clinics)
    with TestClient(app) as client:
        yield client


@dataclass
class LiveServer:
    """The app served by uvicorn on a free port (for clients that bring their own HTTP stack)."""

    root: str
    app: FastAPI


@pytest.fixture
def live_server(
    database_url: str, database: Database, empty_orthanc: OrthancProcess, clinics: Clinics
) -> Iterator[LiveServer]:
    """uvicorn serving the app on a free loopback port, in a thread of the test process (so the token table works)."""
    port = free_port()
    root = f"http://127.0.0.1:{port}"
    app = create_app(imaging_settings(database_url, empty_orthanc, f"{root}/fhir"), database)
    install_tokens(app, clinics)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.02)
    yield LiveServer(root, app)
    server.should_exit = True
    thread.join(timeout=20)
