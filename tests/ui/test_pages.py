"""The browser UI's pages (issue 16, item 1) on SQLite and PostgreSQL: behind the login, under the API's access
rules for the logged-in user (role, clinic, a portal patient's own compartment), read-only, escaped."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tests.auth.conftest import BASE, Clinic
from tests.ui.conftest import ORTHANC, STUDY_UID, Records, log_in

pytestmark = pytest.mark.auth_enabled
DOC, PATIENT = "doc@example.org", "pat@example.org"


def _hrefs(html: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', html)


def test_root_without_a_login_goes_to_the_login_page_and_comes_back(client: TestClient, clinic: Clinic) -> None:
    first = client.get("/ui/Observation?code=x", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == f"{BASE}/auth/login?next={quote('/ui/Observation?code=x', safe='')}"
    page = client.get(first.headers["location"])
    assert page.status_code == 200 and 'name="next" value="/ui/Observation?code=x"' in page.text
    back = log_in(client, DOC, "/ui/Observation?code=x")
    assert back.status_code == 303 and back.headers["location"] == "/ui/Observation?code=x"
    assert client.get("/", follow_redirects=False).status_code == 200


@pytest.mark.parametrize("after", ["https://evil.example/", "//evil.example/ui/x", "/fhir/Patient", "/\\evil"])
def test_the_login_never_returns_off_the_ui(client: TestClient, clinic: Clinic, after: str) -> None:
    done = log_in(client, DOC, after)
    assert done.status_code == 303 and done.headers["location"] == f"{BASE}/auth/manage"
    assert f'value="{after}"' not in client.get(f"{BASE}/auth/login", params={"next": after}).text


def test_a_physician_sees_the_clinic_and_nothing_of_another(client: TestClient, records: Records) -> None:
    log_in(client, DOC)
    home = client.get("/")
    assert home.status_code == 200
    assert '<span class="clinic">Test Clinic</span>' in home.text  # the clinic's name, as on the login pages
    assert re.search(r'href="/ui/Observation">Observation</a></td><td class="count">3<', home.text)
    assert re.search(r'href="/ui/Patient">Patient</a></td><td class="count">2<', home.text)
    found = client.get("/ui/Observation")
    assert found.status_code == 200
    for mine in (records.own, records.own_newer, records.other):
        assert f"/ui/Observation/{mine}" in found.text
    assert records.elsewhere not in found.text
    assert client.get(f"/ui/Observation/{records.elsewhere}").status_code == 404
    assert client.get(f"/ui/Patient/{records.elsewhere_patient}/timeline").status_code == 404
    assert client.get(f"/ui/Observation/{records.elsewhere}/_history/1").status_code == 404


def test_a_portal_patient_sees_only_their_own_compartment(client: TestClient, records: Records) -> None:
    log_in(client, PATIENT)
    found = client.get("/ui/Observation").text
    assert records.own in found and records.own_newer in found and records.other not in found
    patients = client.get("/ui/Patient").text
    assert "/ui/Patient/pat-1" in patients and "/ui/Patient/pat-2" not in patients
    other = client.get(f"/ui/Observation/{records.other}")
    assert other.status_code == 404 and "is not known" in other.text and "glucose" not in other.text
    assert client.get(f"/ui/Observation/{records.other}/_history/1").status_code == 404
    assert client.get("/ui/Patient/pat-2").status_code == 404
    timeline = client.get("/ui/Patient/pat-2/timeline")
    assert timeline.status_code == 404 and "glucose" not in timeline.text
    assert client.get("/ui/Observation?subject=Patient/pat-2").text.count("/ui/Observation/") == 0
    home = client.get("/").text
    assert re.search(r'href="/ui/Observation">Observation</a></td><td class="count">2<', home)
    assert 'href="/ui/Patient/pat-1/timeline">My timeline' in home


def test_the_timeline_sorts_the_record_by_clinical_date(client: TestClient, records: Records) -> None:
    log_in(client, PATIENT)
    page = client.get("/ui/Patient/pat-1/timeline")
    assert page.status_code == 200
    order = [records.own_newer, records.own, records.study]  # 2025-03-01, 2024-01-05, 2023-11-20
    positions = [
        page.text.index(f"/ui/{kind}/{rid}")
        for kind, rid in zip(("Observation", "Observation", "ImagingStudy"), order, strict=True)
    ]
    assert positions == sorted(positions)
    assert "2025-03-01T10:00:00Z" in page.text and "2023-11-20T09:30:00Z" in page.text
    assert f"GET {BASE}/Patient/pat-1/$everything?_count=200" in page.text
    viewer = f"{ORTHANC}/stone-webviewer/index.html?study={STUDY_UID}"
    assert f'href="{viewer}"' in page.text


def test_a_resource_page_links_its_references_and_lists_its_versions(client: TestClient, records: Records) -> None:
    log_in(client, DOC)
    page = client.get(f"/ui/Observation/{records.own}")
    assert page.status_code == 200
    assert '<a class="ref" href="/ui/Patient/pat-1">' in page.text
    assert f"GET {BASE}/Observation/{records.own}</code>" in page.text
    assert f"/ui/Observation/{records.own}/_history/2" in page.text
    assert f"/ui/Observation/{records.own}/_history/1" in page.text
    assert "<script>alert(1)</script>" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    followed = client.get("/ui/Patient/pat-1")
    assert followed.status_code == 200 and 'href="/ui/Patient/pat-1/timeline"' in followed.text


def test_a_version_page_shows_the_difference_from_the_one_before(client: TestClient, records: Records) -> None:
    log_in(client, DOC)
    page = client.get(f"/ui/Observation/{records.own}/_history/2")
    assert page.status_code == 200
    assert '<span class="remove">-  &#34;status&#34;: &#34;final&#34;,</span>' in page.text
    assert '<span class="add">+  &#34;status&#34;: &#34;amended&#34;,</span>' in page.text
    assert f"GET {BASE}/Observation/{records.own}/_history/2" in page.text
    assert client.get(f"/ui/Observation/{records.own}/_history/3").status_code == 404
    assert client.get(f"/ui/Observation/{records.own}/_history/x").status_code == 404


def test_the_search_form_offers_the_registry_parameters_and_pages_by_the_servers_links(
    client: TestClient, records: Records
) -> None:
    log_in(client, DOC)
    first = client.get("/ui/Observation", params={"_count": "2", "code": "", "_sort": "date"})
    for name in ("code", "subject", "date", "value-quantity", "_lastUpdated"):
        assert f'name="{name}"' in first.text
    assert f"GET {BASE}/Observation?_count=2&amp;_sort=date</code>" in first.text
    seen = re.findall(r'href="/ui/Observation/([^"/]+)"', first.text)
    assert len(seen) == 2
    following = [h for h in _hrefs(first.text) if "_cursor=" in h]
    assert following and following[0].startswith("/ui/Observation?")
    second = client.get(following[0].replace("&amp;", "&"))
    rest = re.findall(r'href="/ui/Observation/([^"/]+)"', second.text)
    assert len(rest) == 1 and not set(rest) & set(seen)


def test_a_bad_search_is_the_apis_400_with_what_was_wrong(client: TestClient, clinic: Clinic) -> None:
    log_in(client, DOC)
    page = client.get("/ui/Observation", params={"no-such-parameter": "1"})
    assert page.status_code == 400 and "no-such-parameter" in page.text
    assert client.get("/ui/NoSuchType").status_code == 404


def test_a_role_without_clinical_types_sees_none(client: TestClient, records: Records, front_desk: str) -> None:
    log_in(client, front_desk)
    home = client.get("/").text
    assert 'href="/ui/Patient"' in home and 'href="/ui/Observation"' not in home
    refused = client.get("/ui/Observation")
    assert refused.status_code == 403 and records.own not in refused.text
    assert client.get(f"/ui/Observation/{records.own}").status_code == 403


def test_the_pages_are_read_only(client: TestClient, records: Records) -> None:
    log_in(client, DOC)
    paths = [
        "/",
        "/ui/Observation",
        f"/ui/Observation/{records.own}",
        f"/ui/Observation/{records.own}/_history/2",
        "/ui/Patient/pat-1/timeline",
    ]
    for path in paths:
        page = client.get(path)
        assert page.status_code == 200, path
        posts = re.findall(r'<form method="post" action="([^"]+)"', page.text)
        assert posts == [f"{BASE}/auth/logout"], path
        assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    assert client.post("/ui/Observation").status_code == 405


def test_the_assets_are_served_locally(client: TestClient) -> None:
    assert client.get("/ui/static/ui.css").headers["content-type"].startswith("text/css")
    assert client.get("/ui/static/ui.js").status_code == 200
    assert client.get("/ui/static/..%2Fviewer.py").status_code == 404
