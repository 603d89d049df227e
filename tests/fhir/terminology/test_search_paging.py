"""A CodeSystem/ValueSet search pages, sorts and counts the server's published definitions and the clinic's own as
one result (http://hl7.org/fhir/R4/search.html#count, #sort, #total): ``_count`` matches a page at most, ``next``
walks through every match exactly once, ``_sort`` orders both parts together, ``total`` counts both."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from fhir_server.fhir import terminology
from tests.authorized_client import clinic_of, fhir_client


@pytest.fixture
def client(database_url: str, auth_mode: str) -> Iterator[TestClient]:
    with fhir_client(database_url, auth_mode, log_level="warning") as client:
        clinic_of(client)
        yield client


def _own_code_system(client: TestClient, name: str) -> str:
    resource = {
        "resourceType": "CodeSystem",
        "url": f"http://clinic.example.org/CodeSystem/{name.replace(' ', '-')}",
        "name": name,
        "status": "draft",
        "content": "complete",
        "concept": [{"code": "a", "display": "A"}],
    }
    created = client.post("/fhir/CodeSystem", json=resource)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _walk(client: TestClient, params: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every page of a search, following ``next``; (the pages, the matches in order)."""
    pages = [client.get("/fhir/CodeSystem", params=params)]
    while True:
        assert pages[-1].status_code == 200, pages[-1].text
        following = [link["url"] for link in pages[-1].json()["link"] if link["relation"] == "next"]
        if not following:
            break
        assert len(pages) < 100
        pages.append(client.get("/fhir" + following[0].split("/fhir", 1)[1]))
    bundles = [p.json() for p in pages]
    matches = [e["resource"] for b in bundles for e in b.get("entry", []) if e["search"]["mode"] == "match"]
    return bundles, matches


def test_count_pages_through_every_code_system_exactly_once(client: TestClient) -> None:
    own = [_own_code_system(client, f"Own{n}") for n in range(3)]
    bundles, matches = _walk(client, {"_count": 10})
    assert all(len([e for e in b.get("entry", []) if e["search"]["mode"] == "match"]) <= 10 for b in bundles)
    ids = [m["id"] for m in matches]
    published = set(terminology.catalogue().by_id["CodeSystem"])
    assert len(ids) == len(set(ids)) == len(published) + 3
    assert set(ids) == published | set(own)
    assert ids == sorted(ids)  # no _sort: one order by id over both parts


def test_sort_by_name_orders_both_parts_together(client: TestClient) -> None:
    own = _own_code_system(client, "IdentifierTypeClinic")  # between published names starting "Identifier..."
    _, matches = _walk(client, {"_sort": "name", "_count": 25})
    names = [m["name"].casefold() for m in matches]
    assert names == sorted(names)
    position = [m["id"] for m in matches].index(own)
    assert 0 < position < len(matches) - 1
    _, backwards = _walk(client, {"_sort": "-name", "_count": 40})
    backward_names = [m["name"].casefold() for m in backwards]
    assert backward_names == sorted(names, reverse=True)
    assert sorted(m["id"] for m in backwards) == sorted(m["id"] for m in matches)


def test_total_and_summary_count_cover_both_parts(client: TestClient) -> None:
    _own_code_system(client, "OwnCounted")
    published = len(terminology.catalogue().by_id["CodeSystem"])
    first = client.get("/fhir/CodeSystem", params={"_count": 5, "_total": "accurate"}).json()
    assert first["total"] == published + 1
    assert len(first["entry"]) == 5
    counted = client.get("/fhir/CodeSystem", params={"_summary": "count"}).json()
    assert counted["total"] == published + 1 and "entry" not in counted
    narrowed = client.get("/fhir/CodeSystem", params={"name": "own,administrativegender", "_total": "accurate"})
    assert narrowed.json()["total"] == 2


def test_a_cursor_of_another_search_is_refused(client: TestClient) -> None:
    first = client.get("/fhir/CodeSystem", params={"_count": 2}).json()
    following = next(link["url"] for link in first["link"] if link["relation"] == "next")
    cursor = following.split("_cursor=", 1)[1]
    other = client.get("/fhir/CodeSystem", params={"_count": 2, "_sort": "name", "_cursor": cursor})
    assert other.status_code == 400
    assert other.json()["issue"][0]["expression"] == ["_cursor"]


@pytest.mark.parametrize("sort", ["-date", "_lastUpdated", "status,-_id", "-code"])
def test_every_sort_serves_each_match_once(client: TestClient, sort: str) -> None:
    own = [_own_code_system(client, f"Sorted{n}") for n in range(2)]
    _, matches = _walk(client, {"_sort": sort, "_count": 60})
    ids = [m["id"] for m in matches]
    assert len(ids) == len(set(ids)) == len(terminology.catalogue().by_id["CodeSystem"]) + 2
    assert set(own) <= set(ids)


@pytest.mark.parametrize("auth_mode", ["off"])
def test_the_order_is_by_code_point_under_any_database_collation(database_url: str, auth_mode: str) -> None:
    """A PostgreSQL database of another collation (here the sort key's column in en_US, which ignores spaces at
    first) still orders the clinic's part by code point, the order the published part is merged in."""
    if database_url.startswith("postgresql"):
        engine = create_engine(database_url)
        with engine.begin() as connection:
            connection.execute(text('ALTER TABLE search_string ALTER COLUMN normalized TYPE text COLLATE "en_US"'))
        engine.dispose()
    with fhir_client(database_url, auth_mode, log_level="warning") as client:
        clinic_of(client)
        for name in ("Qxa", "Qx b"):
            _own_code_system(client, name)
        _, matches = _walk(client, {"name": "qx", "_sort": "name", "_count": 1})
    assert [m["name"] for m in matches] == ["Qx b", "Qxa"]  # " " (U+0020) before "a"
