"""history at instance, type and system level (http://hl7.org/fhir/R4/http.html#history)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle

MakePatient = Callable[..., dict[str, Any]]


def _history(client: TestClient, path: str, **params: str) -> dict[str, Any]:
    response = client.get(f"/fhir/{path}", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _link(bundle: dict[str, Any], relation: str) -> str | None:
    return next((link["url"] for link in bundle["link"] if link["relation"] == relation), None)


def _follow(client: TestClient, url: str) -> dict[str, Any]:
    """GET a link of a Bundle (built on the public base URL) through the test client."""
    parts = urlsplit(url)
    assert parts.netloc == "fhir.example.org" and parts.path.startswith("/r4/")
    response = client.get("/fhir/" + parts.path.removeprefix("/r4/") + "?" + parts.query)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _versions(bundle: dict[str, Any]) -> list[str]:
    return [f"{e['fullUrl'].rsplit('/', 1)[1]}@{e['response']['etag']}" for e in bundle["entry"]]


def _updated(client: TestClient, patient: dict[str, Any], **changes: Any) -> dict[str, Any]:
    time.sleep(0.005)  # distinct lastUpdated instants, even at millisecond precision
    response = client.put(f"/fhir/Patient/{patient['id']}", json={**patient, **changes})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _just_after(instant: str) -> str:
    """An instant 2 ms after ``instant`` (lastUpdated shows milliseconds; the stored instant may be a little later)."""
    later = datetime.fromisoformat(instant.replace("Z", "+00:00")) + timedelta(milliseconds=2)
    return later.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _outcome(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    issue: dict[str, Any] = response.json()["issue"][0]
    return issue


def test_instance_history_lists_every_version_newest_first(
    client: TestClient, make_patient: MakePatient, base_url: str
) -> None:
    patient = make_patient()
    _updated(client, patient, birthDate="1990-01-01")
    assert client.delete(f"/fhir/Patient/{patient['id']}").status_code == 204

    bundle = _history(client, f"Patient/{patient['id']}/_history")

    assert bundle["type"] == "history"
    assert bundle["total"] == 3
    assert [e["request"]["method"] for e in bundle["entry"]] == ["DELETE", "PUT", "POST"]
    assert [e["request"]["url"] for e in bundle["entry"]] == [f"Patient/{patient['id']}"] * 2 + ["Patient"]
    assert [e["response"]["etag"] for e in bundle["entry"]] == ['W/"3"', 'W/"2"', 'W/"1"']
    assert [e["response"]["status"][:3] for e in bundle["entry"]] == ["204", "200", "201"]
    assert "resource" not in bundle["entry"][0]
    assert bundle["entry"][1]["resource"]["birthDate"] == "1990-01-01"
    assert bundle["entry"][2]["resource"]["meta"]["versionId"] == "1"
    assert {e["fullUrl"] for e in bundle["entry"]} == {f"{base_url}/Patient/{patient['id']}"}
    Bundle.model_validate(bundle)


def test_instance_history_entries_carry_last_modified(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    entry = _history(client, f"Patient/{patient['id']}/_history")["entry"][0]
    assert entry["response"]["lastModified"] == patient["meta"]["lastUpdated"]


def test_instance_history_of_an_unknown_resource_is_404(client: TestClient) -> None:
    issue = _outcome(client.get("/fhir/Patient/nobody/_history"), 404)
    assert issue["code"] == "not-found"


def test_history_of_an_unserved_type_is_404(client: TestClient) -> None:
    assert _outcome(client.get("/fhir/Spaceship/_history"), 404)["code"] == "not-found"
    assert _outcome(client.get("/fhir/Spaceship/1/_history"), 404)["code"] == "not-found"


def test_type_history_holds_only_that_type(
    client: TestClient, make_patient: MakePatient, clinic: dict[str, Any]
) -> None:
    first, second = make_patient("One"), make_patient("Two")
    bundle = _history(client, "Patient/_history")
    assert _versions(bundle) == [f'{second["id"]}@W/"1"', f'{first["id"]}@W/"1"']
    assert "total" not in bundle
    organizations = _history(client, "Organization/_history")
    assert _versions(organizations) == [f'{clinic["id"]}@W/"1"']


def test_system_history_holds_every_type(
    client: TestClient, make_patient: MakePatient, clinic: dict[str, Any], base_url: str
) -> None:
    patient = make_patient()
    bundle = _history(client, "_history")
    assert [e["fullUrl"] for e in bundle["entry"]] == [
        f"{base_url}/Patient/{patient['id']}",
        f"{base_url}/Organization/{clinic['id']}",
    ]
    Bundle.model_validate(bundle)


def test_since_keeps_versions_written_at_or_after_the_instant(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    second = _updated(client, patient, gender="female")
    _updated(client, second, gender="male")

    bundle = _history(client, f"Patient/{patient['id']}/_history", _since=second["meta"]["lastUpdated"])

    assert [e["response"]["etag"] for e in bundle["entry"]] == ['W/"3"', 'W/"2"']
    assert bundle["total"] == 2
    assert "_since=" in (_link(bundle, "self") or "")


def test_since_in_the_future_finds_nothing(client: TestClient, make_patient: MakePatient) -> None:
    make_patient()
    assert _history(client, "_history", _since="2999-01-01T00:00:00Z")["entry"] == []


def test_at_keeps_the_versions_current_at_that_time(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    second = _updated(client, patient, gender="female")
    _updated(client, second, gender="male")
    path = f"Patient/{patient['id']}/_history"

    at_first = _history(client, path, _at=_just_after(patient["meta"]["lastUpdated"]))
    at_second = _history(client, path, _at=_just_after(second["meta"]["lastUpdated"]))
    this_year = _history(client, path, _at=patient["meta"]["lastUpdated"][:4])

    assert [e["response"]["etag"] for e in at_first["entry"]] == ['W/"1"']
    assert [e["response"]["etag"] for e in at_second["entry"]] == ['W/"2"']
    assert [e["response"]["etag"] for e in this_year["entry"]] == ['W/"3"', 'W/"2"', 'W/"1"']


def test_at_before_the_resource_existed_finds_nothing(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    bundle = _history(client, f"Patient/{patient['id']}/_history", _at="2001-02-03")
    assert bundle["entry"] == []
    assert bundle["total"] == 0


def test_paging_walks_every_version_once_with_next_and_back_with_previous(
    client: TestClient, make_patient: MakePatient, base_url: str
) -> None:
    patients = [make_patient(f"P{n}") for n in range(4)]
    everything = _versions(_history(client, "_history", _count="100"))
    assert len(everything) == 5 == len(patients) + 1

    pages = [_history(client, "_history", _count="2")]
    while (url := _link(pages[-1], "next")) is not None:
        pages.append(_follow(client, url))

    assert [len(page["entry"]) for page in pages] == [2, 2, 1]
    assert [v for page in pages for v in _versions(page)] == everything
    assert _link(pages[0], "previous") is None
    back = _follow(client, _link(pages[2], "previous") or "")
    assert _versions(back) == _versions(pages[1])
    assert _versions(_follow(client, _link(back, "previous") or "")) == _versions(pages[0])
    assert _link(pages[2], "first") == f"{base_url}/_history?_count=2"


def test_paging_links_use_the_public_base_url_and_keep_the_filters(
    client: TestClient, make_patient: MakePatient, base_url: str
) -> None:
    patient = make_patient()
    _updated(client, patient, gender="female")
    bundle = _history(client, f"Patient/{patient['id']}/_history", _count="1", _since="2000-01-01")
    next_url = _link(bundle, "next") or ""
    parts = urlsplit(next_url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{base_url}/Patient/{patient['id']}/_history"
    query = parse_qs(parts.query)
    assert query["_count"] == ["1"] and query["_since"] == ["2000-01-01"] and "_cursor" in query
    assert [e["response"]["etag"] for e in _follow(client, next_url)["entry"]] == ['W/"1"']


def test_a_write_between_pages_neither_shifts_nor_repeats_entries(
    client: TestClient, make_patient: MakePatient
) -> None:
    patients = [make_patient(f"P{n}") for n in range(3)]
    first = _history(client, "Patient/_history", _count="2")
    make_patient("Late")
    second = _follow(client, _link(first, "next") or "")
    assert _versions(first) + _versions(second) == [f'{p["id"]}@W/"1"' for p in reversed(patients)]


def test_a_tampered_cursor_is_refused(client: TestClient, make_patient: MakePatient) -> None:
    make_patient()
    make_patient()
    next_url = _link(_history(client, "_history", _count="1"), "next") or ""
    cursor = parse_qs(urlsplit(next_url).query)["_cursor"][0]
    tampered = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
    issue = _outcome(client.get("/fhir/_history", params={"_count": "1", "_cursor": tampered}), 400)
    assert issue["expression"] == ["_cursor"]
    issue = _outcome(client.get("/fhir/_history", params={"_cursor": "not-a-cursor"}), 400)
    assert issue["expression"] == ["_cursor"]


def test_a_cursor_of_another_query_is_refused(client: TestClient, make_patient: MakePatient) -> None:
    make_patient()
    make_patient()
    next_url = _link(_history(client, "Patient/_history", _count="1"), "next") or ""
    cursor = parse_qs(urlsplit(next_url).query)["_cursor"][0]
    issue = _outcome(client.get("/fhir/Organization/_history", params={"_cursor": cursor}), 400)
    assert issue["expression"] == ["_cursor"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"_count": "many"}, "_count"),
        ({"_count": "-1"}, "_count"),
        ({"_since": "yesterday"}, "_since"),
        ({"_since": "2020-01-01T10:00:00"}, "_since"),
        ({"_since": "2020-02-30"}, "_since"),
        ({"_at": "2020-13"}, "_at"),
        ({"_list": "my-list"}, "_list"),
        ({"name": "Doe"}, "name"),
    ],
)
def test_a_bad_or_unknown_parameter_is_400_naming_it(
    client: TestClient, params: dict[str, str], parameter: str
) -> None:
    issue = _outcome(client.get("/fhir/_history", params=params), 400)
    assert issue["expression"] == [parameter]


def test_a_repeated_parameter_is_400(client: TestClient) -> None:
    issue = _outcome(client.get("/fhir/_history?_count=1&_count=2"), 400)
    assert issue["expression"] == ["_count"]


def test_count_is_capped_at_1000(client: TestClient) -> None:
    bundle = _history(client, "_history", _count="5000")
    assert parse_qs(urlsplit(_link(bundle, "self") or "").query)["_count"] == ["1000"]


def test_count_zero_gives_only_the_total(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    bundle = _history(client, f"Patient/{patient['id']}/_history", _count="0")
    assert bundle["entry"] == [] and bundle["total"] == 1
    assert _link(bundle, "next") is None


def test_since_accepts_an_offset_zone(client: TestClient, make_patient: MakePatient) -> None:
    patient = make_patient()
    year = int(patient["meta"]["lastUpdated"][:4])
    assert len(_history(client, "Patient/_history", _since=f"{year}-01-01T00:00:00+02:00")["entry"]) == 1
    assert _history(client, "Patient/_history", _since=f"{year + 1}-01-01T00:00:00-02:00")["entry"] == []


def test_history_is_json_only(client: TestClient) -> None:
    assert _outcome(client.get("/fhir/_history", params={"_format": "xml"}), 406)["code"] == "not-supported"


@pytest.mark.parametrize("params", [{"_at": "9999-12"}, {"_at": "9999"}, {"_since": "0001-01-01T00:00:00+14:00"}])
def test_dates_at_the_edges_of_the_calendar_are_served(client: TestClient, params: dict[str, str]) -> None:
    assert client.get("/fhir/_history", params=params).status_code == 200


def test_pretty_history_is_indented(client: TestClient) -> None:
    assert "\n  " in client.get("/fhir/_history", params={"_pretty": "true"}).text
