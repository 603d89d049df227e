"""Issue 15, item 3: no search query gives a 500, on every search route.

Queries are generated per type (tests.fuzz.queries): parameter names of the type, common ones, chains, ``_has``,
result parameters and nonsense, with modifiers, prefixes and values of every kind (U+0000 and other control
characters, any Unicode, very long values, dates that do not exist, numbers beyond any range). Each is sent as a
search (GET and POST ``_search``), a Patient compartment search, the criteria of a conditional delete (with an
``_id`` that matches nothing, so nothing goes) and a batch entry's GET. Every answer must be no 5xx, every error an
OperationOutcome and every success a Bundle. The AuditEvent search, which has a parser of its own, gets the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from mappings.registry import MAPPED, MAPPINGS
from tests.fuzz.answers import sane
from tests.fuzz.queries import queries
from tests.fuzz.writes import FHIR_JSON, encoded, fresh_id
from tests.roundtrip.server import Server

TYPES = st.one_of(
    st.sampled_from(sorted(MAPPINGS)),
    st.sampled_from([*MAPPED, "AuditEvent", "Observation", "Encounter", "Condition", "DocumentReference"]),
)
"""Every served type (searching costs far less than generating resources), half the time one of the clinic's or a
common one, or AuditEvent (searched apart)."""
EXAMPLES = {"sqlite": 300, "postgresql": 150}
Pairs = list[tuple[str, str]]


def _search(client: TestClient, resource_type: str, pairs: Pairs) -> Any:
    return client.get(f"/fhir/{resource_type}?{urlencode(pairs)}")


def _search_post(client: TestClient, resource_type: str, pairs: Pairs) -> Any:
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    return client.post(f"/fhir/{resource_type}/_search", content=urlencode(pairs).encode(), headers=form)


def _compartment(client: TestClient, resource_type: str, pairs: Pairs) -> Any:
    return client.get(f"/fhir/Patient/rt-patient-1/{resource_type}?{urlencode(pairs)}")


def _conditional_delete(client: TestClient, resource_type: str, pairs: Pairs) -> Any:
    return client.delete(f"/fhir/{resource_type}?{urlencode([*pairs, ('_id', fresh_id())])}")


def _batch_get(client: TestClient, resource_type: str, pairs: Pairs) -> Any:
    entry = {"request": {"method": "GET", "url": f"{resource_type}?{urlencode(pairs)}"}}
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [entry]}
    return client.post("/fhir", content=encoded(bundle), headers=FHIR_JSON)


ROUTES: tuple[Callable[[TestClient, str, Pairs], Any], ...] = (
    _search,
    _search,
    _search_post,
    _compartment,
    _conditional_delete,
    _batch_get,
)


def _answered(response: Any, sent: Pairs) -> None:
    body = sane(response, sent)
    if response.status_code == 200:
        assert body["resourceType"] == "Bundle", body
        for entry in body.get("entry", []):
            status = entry.get("response", {}).get("status", "200")
            assert int(status.split()[0]) < 500, f"a batch entry answered {entry} for {sent}"


def test_no_search_query_fails_the_server(server: Server) -> None:
    cases = TYPES.flatmap(lambda t: st.tuples(st.just(t), queries(t)))

    @settings(max_examples=EXAMPLES[server.backend], deadline=None)
    @given(case=cases, route=st.sampled_from(ROUTES))
    def holds(case: tuple[str, Pairs], route: Callable[[TestClient, str, Pairs], Any]) -> None:
        _answered(route(server.client, *case), case[1])

    holds()
