"""Cross-site request forgery: no page of the authorization server changes anything for a request posted from
another site, while the OAuth endpoints that apps call cross-site by design (SMART ``authorize-post``) keep working."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from fhir_server.auth.same_origin import CROSS_SITE_ENDPOINTS
from fhir_server.db import Base
from fhir_server.db.engine import Database
from tests.auth.conftest import (
    BASE,
    PASSWORD,
    REDIRECT,
    Browser,
    Clinic,
    authorize_params,
    exchange,
    form_value,
    pkce_pair,
)

FORGED = [
    {"Origin": "https://evil.example"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
    {"Sec-Fetch-Site": "same-site", "Origin": "https://other.example.org"},
    {"Origin": "null"},
    {"Origin": "http://fhir.example.org"},  # the same host over plain http is another origin
]
SAME_ORIGIN = {"Origin": "https://fhir.example.org", "Sec-Fetch-Site": "same-origin"}
STATE_CHANGING_PAGES = {
    "login",
    "logout",
    "pick-patient",
    "consent",
    "launch",
    "manage",
    "forgot-password",
    "reset-password",
}


def _routes(router: Any, prefix: str = "") -> Iterator[APIRoute]:
    """Every APIRoute of ``router`` with its full path (FastAPI keeps included routers as branches)."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            yield route if not prefix else APIRoute(prefix + route.path, route.endpoint, methods=route.methods)
        elif hasattr(route, "original_router"):
            yield from _routes(route.original_router, prefix + route.include_context.prefix)


def _page_posts(client: TestClient) -> list[str]:
    """Every route under {base}/auth/ that takes a POST, but those meant for cross-site use."""
    return sorted(
        route.path
        for route in _routes(client.app.router)  # type: ignore[attr-defined]
        if route.path.startswith("/fhir/auth/")
        and "POST" in (route.methods or ())
        and not any(route.path.endswith(endpoint) for endpoint in CROSS_SITE_ENDPOINTS)
    )


def _snapshot(database: Database) -> dict[str, list[str]]:
    """Every row of every table, to show that nothing changed."""
    with database.read() as session:
        return {
            table.name: sorted(repr(tuple(row)) for row in session.execute(select(table)))
            for table in Base.metadata.sorted_tables
        }


def _signed_in_at_consent(client: TestClient, browser: Browser, clinic: Clinic) -> dict[str, Any]:
    """A physician signed in, with an app that holds a grant and another request waiting at the picker; returns a
    form that every page would act on if it accepted it."""
    code, verifier, _ = browser.code_for(
        clinic.public_client, "launch/patient offline_access patient/*.rs", "doc@example.org"
    )
    assert exchange(client, code, verifier, clinic.public_client).status_code == 200
    grant = client.get(f"{BASE}/auth/manage").text.split('name="grant" value="')[1].split('"')[0]
    _verifier, challenge = pkce_pair()
    picker = browser.follow(
        browser.start(authorize_params(clinic.public_client, "launch/patient patient/*.rs", challenge))
    )
    assert "Choose a patient" in picker.text
    return {
        "request": form_value(picker.text, "request"),
        "patient": clinic.other_patient_id,
        "decision": "allow",
        "scope": ["launch/patient", "patient/*.rs"],
        "grant": grant,
        "client_id": clinic.public_client,
        "email": clinic.patient_email,
        "password": PASSWORD,
        "next": "manage",
    }


@pytest.mark.parametrize("headers", FORGED, ids=lambda h: ",".join(f"{k}={v}" for k, v in h.items()))
def test_a_cross_site_post_to_any_page_is_refused_and_changes_nothing(
    client: TestClient, browser: Browser, clinic: Clinic, database: Database, headers: dict[str, str]
) -> None:
    paths = _page_posts(client)
    assert {path.rsplit("/", 1)[-1] for path in paths} >= STATE_CHANGING_PAGES
    form = _signed_in_at_consent(client, browser, clinic)
    before = _snapshot(database)
    for path in paths:
        response = client.post(f"https://fhir.example.org{path}", data=form, headers=headers, follow_redirects=False)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["issue"][0]["code"] == "forbidden"
        assert "set-cookie" not in response.headers, path
    assert _snapshot(database) == before
    assert client.get(f"{BASE}/auth/manage").status_code == 200  # still signed in: the forged logout did nothing


def test_the_same_forms_from_the_servers_own_pages_work(client: TestClient, browser: Browser, clinic: Clinic) -> None:
    _verifier, challenge = pkce_pair()
    page = browser.follow(
        browser.start(authorize_params(clinic.public_client, "launch/patient patient/*.rs", challenge))
    )
    data: dict[str, Any] = {
        "request": form_value(page.text, "request"),
        "email": clinic.physician_email,
        "password": PASSWORD,
    }
    picker = client.post(f"{BASE}/auth/login", data=data, headers=SAME_ORIGIN, follow_redirects=False)
    assert picker.status_code == 200 and "Choose a patient" in picker.text
    data = {"request": form_value(picker.text, "request"), "patient": clinic.patient_id}
    consent = client.post(f"{BASE}/auth/pick-patient", data=data, headers=SAME_ORIGIN, follow_redirects=False)
    data = {"request": form_value(consent.text, "request"), "decision": "allow", "scope": ["patient/*.rs"]}
    done = client.post(f"{BASE}/auth/consent", data=data, headers=SAME_ORIGIN, follow_redirects=False)
    assert done.status_code == 302 and done.headers["location"].startswith(REDIRECT + "?code=")
    signed_out = client.post(f"{BASE}/auth/logout", headers={"Sec-Fetch-Site": "none"}, follow_redirects=False)
    assert signed_out.status_code == 200 and "You are signed out" in signed_out.text


def test_an_app_still_posts_the_authorization_request_cross_site(browser: Browser, clinic: Clinic) -> None:
    _verifier, challenge = pkce_pair()
    params = authorize_params(clinic.public_client, "launch/patient patient/*.rs", challenge)
    app_origin = {"Origin": "https://app.example.org", "Sec-Fetch-Site": "cross-site"}
    response = browser.client.post(f"{BASE}/auth/authorize", data=params, headers=app_origin, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith(f"{BASE}/auth/flow")
    assert 'name="password"' in browser.follow(response).text
