"""Running a check over generated resources of one type, with example counts by database kind."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hypothesis import HealthCheck, given, settings

from tests.roundtrip.generator import resources
from tests.roundtrip.server import Server
from tests.roundtrip.server_rules import favoured, shape

SLOW_GENERATION = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
"""Resources are built from many draws, and a draw that breaks an invariant is drawn again."""

Check = Callable[[Server, dict[str, Any]], Any]


def holds_for_generated(server: Server, resource_type: str, examples: Mapping[str, int], check: Check) -> None:
    """``check(server, resource)`` for ``examples[backend]`` generated resources of ``resource_type`` (no example
    database: every run draws afresh, and a failure prints its resource)."""
    strategy = resources(
        resource_type, server.references_for(resource_type), shape(resource_type), favoured(resource_type)
    )

    @settings(
        max_examples=examples[server.backend], deadline=None, database=None, suppress_health_check=SLOW_GENERATION
    )
    @given(strategy)
    def holds(resource: dict[str, Any]) -> None:
        check(server, dict(resource))

    holds()
