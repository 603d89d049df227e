"""Paging stays consistent while others write (http://hl7.org/fhir/R4/http.html#paging, search.html#count).

A search is a snapshot of the moment its first page was made: walking its ``next`` links shows every resource
that matched then exactly once, even when, between two pages, resources are created, updated (their sort key
and the value the search matches on changed) and deleted; nothing created after the first page shows up.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.authorized_client import clinic_of
from tests.fhir.search.search_support import PUBLIC_BASE_URL, Json, create, ids, search

FAMILY = "Walker"
PEOPLE = 20
PAGE = 5


def _patient(client: TestClient, clinic: Json, given: str, birth_date: str) -> Json:
    return create(
        client,
        {
            "resourceType": "Patient",
            "name": [{"family": FAMILY, "given": [given]}],
            "birthDate": birth_date,
            "managingOrganization": {"reference": f"Organization/{clinic['id']}"},
        },
    )


def _put(client: TestClient, resource: Json) -> Json:
    response = client.put(f"/fhir/Patient/{resource['id']}", json=resource)
    assert response.status_code == 200, response.text
    stored: Json = response.json()
    return stored


def _renamed(resource: Json, given: str | None = None, family: str | None = None) -> Json:
    name = {"family": family or resource["name"][0]["family"], "given": [given or resource["name"][0]["given"][0]]}
    return {**resource, "name": [name]}


def _next(bundle: Json) -> str | None:
    return next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)


class Writer:
    """Between two pages: creates a match, moves one resource not yet seen before the page and one already seen
    after it (their sort keys), makes one stop matching and deletes one."""

    def __init__(self, client: TestClient, clinic: Json, people: dict[str, Json]) -> None:
        self.client, self.clinic, self.people = client, clinic, people
        self.created: set[str] = set()
        self.round = 0

    def __call__(self, seen: set[str]) -> None:
        self.round += 1
        for given in (f"Aaron{self.round}", f"Zed{self.round}"):
            self.created.add(_patient(self.client, self.clinic, given, "1999-01-01")["id"])
        unseen = sorted(i for i in self.people if i not in seen)
        if len(unseen) >= 3:
            moved, unmatched, deleted = unseen[0], unseen[1], unseen[2]
            self.people[moved] = _put(self.client, _renamed(self.people[moved], given=f"Aardvark{self.round}"))
            self.people[unmatched] = _put(self.client, _renamed(self.people[unmatched], family="Stranger"))
            assert self.client.delete(f"/fhir/Patient/{deleted}").status_code in {200, 204}
            self.people.pop(deleted)
        for seen_id in sorted(seen & set(self.people))[:1]:
            self.people[seen_id] = _put(self.client, _renamed(self.people[seen_id], given=f"Zz{self.round}"))


def _walk(client: TestClient, sort: str, between: Callable[[set[str]], None]) -> list[str]:
    bundle = search(client, "Patient", [("family", FAMILY), ("_sort", sort), ("_count", str(PAGE))])
    seen = ids(bundle)
    while (url := _next(bundle)) is not None:
        between(set(seen))
        response = client.get("/fhir" + url[len(PUBLIC_BASE_URL) :])
        assert response.status_code == 200, response.text
        bundle = response.json()
        seen += ids(bundle)
    return seen


@pytest.mark.parametrize("sort", ["given", "-birthdate,given", "-_lastUpdated", "_id"])
def test_paging_shows_every_match_of_the_first_page_once_while_others_write(client: TestClient, sort: str) -> None:
    clinic = clinic_of(client)
    people = {}
    for i in range(PEOPLE):
        resource = _patient(client, clinic, f"G{i:02d}", f"19{50 + i % 7}-0{1 + i % 9}-1{i % 10}")
        people[resource["id"]] = resource
    matched_at_start = set(ids(search(client, "Patient", [("family", FAMILY), ("_count", "1000")])))
    assert matched_at_start == set(people)
    writer = Writer(client, clinic, people)
    walked = _walk(client, sort, writer)
    assert writer.round >= 3
    assert len(walked) == len(set(walked)), "a resource was shown twice"
    assert set(walked) == matched_at_start
    assert not set(walked) & writer.created
    fresh = set(ids(search(client, "Patient", [("family", FAMILY), ("_count", "1000")])))
    assert writer.created <= fresh  # a new search sees the writes
