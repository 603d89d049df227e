"""Issue 15, item 3: bad input never gives a 500 and is never stored, on every write route.

Resources of a broad sample of types are generated from the R4 StructureDefinitions (tests.roundtrip.generator) and
broken (tests.fuzz.mutations), then sent through POST create, PUT update, conditional create and update, a batch and
a transaction entry and ``$validate`` (tests.fuzz.writes); stored ones are patched with bad JSON Patches and FHIRPath
Patches. Every answer must be no 5xx and every error an OperationOutcome; a write refused under a new id must leave
nothing; and every resource the server accepted (and every one ``$validate`` found no error in) must pass the
independent R4 validator (tests.fhir_validator), run once per test over all of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mappings.registry import MAPPED
from tests.fuzz import writes
from tests.fuzz.answers import Accepted, sane
from tests.fuzz.mutations import mutated
from tests.roundtrip.generator import resources
from tests.roundtrip.server import Server
from tests.roundtrip.server_rules import favoured, made_unique, shape

TYPES = (
    *MAPPED,
    *("Observation", "Condition", "MedicationRequest", "Encounter", "DocumentReference", "AllergyIntolerance"),
    *("DiagnosticReport", "Immunization", "Procedure", "CarePlan", "Goal", "RelatedPerson"),
)
"""Every type held in clinic tables and a spread of stored ones."""
EXAMPLES = {"sqlite": 120, "postgresql": 60}
PATCH_EXAMPLES = {"sqlite": 50, "postgresql": 25}
SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]


def _valid(server: Server) -> dict[str, st.SearchStrategy[dict[str, Any]]]:
    """A strategy of valid resources per type, shaped as the server needs (references to its clinic...)."""
    return {t: resources(t, server.references_for(t), shape(t), favoured(t), depth=2).map(made_unique) for t in TYPES}


def test_no_write_of_a_broken_resource_fails_the_server_or_stores_an_invalid_one(
    server: Server, tmp_path: Path
) -> None:
    valid = _valid(server)
    accepted = Accepted(server.client)
    cases = st.sampled_from(TYPES).flatmap(lambda t: st.tuples(st.just(t), mutated(valid[t])))

    @settings(max_examples=EXAMPLES[server.backend], deadline=None, suppress_health_check=SLOW)
    @given(case=cases, route=st.sampled_from(writes.ROUTES))
    def holds(case: tuple[str, dict[str, Any]], route: writes.Route) -> None:
        route(accepted, *case)

    holds()
    accepted.check(tmp_path)


def test_no_patch_fails_the_server_or_stores_an_invalid_resource(server: Server, tmp_path: Path) -> None:
    valid = _valid(server)
    accepted = Accepted(server.client)

    @settings(max_examples=PATCH_EXAMPLES[server.backend], deadline=None, suppress_health_check=SLOW)
    @given(data=st.data(), resource_type=st.sampled_from(TYPES), json_patch=st.booleans())
    def holds(data: st.DataObject, resource_type: str, json_patch: bool) -> None:
        resource = {**data.draw(valid[resource_type]), "id": writes.fresh_id()}
        response = server.client.put(f"/fhir/{resource_type}/{resource['id']}", json=resource)
        stored = sane(response, resource)
        if response.status_code >= 300:
            return
        body = data.draw(writes.json_patches(stored) if json_patch else writes.fhirpath_patches(stored))
        writes.patch(accepted, stored, body, json_patch)

    holds()
    accepted.check(tmp_path)
