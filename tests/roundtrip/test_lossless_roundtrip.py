"""Lossless round trip (issue 3, item 9): every served type, as generated valid R4 resources, reads back as sent.

Properties over resources generated from the R4 StructureDefinitions (tests.roundtrip.generator), with
unmapped elements, extensions (nested, on resources and elements, on primitives), modifierExtensions and
contained resources: the server's $validate accepts each one, ``GET(PUT(r))`` equals ``r`` apart from meta and
the server-set elements (tests.roundtrip.server_rules), and a PUT of what was read changes nothing.
Organization has a module of its own (test_organization_roundtrip.py): a new Organization is a new clinic.
"""

from __future__ import annotations

import pytest

from mappings.registry import MAPPED
from tests.roundtrip.checks import round_trip
from tests.roundtrip.properties import holds_for_generated
from tests.roundtrip.server import Server

TYPES = tuple(t for t in MAPPED if t != "Organization")
"""Every type held in clinic tables, but Organization."""
EXAMPLES = {"sqlite": 40, "postgresql": 12}
"""Examples per type: all of them on SQLite, a sample on PostgreSQL (the SQL is the same; the JSON storage is not)."""


@pytest.mark.parametrize("resource_type", TYPES)
def test_a_valid_resource_reads_back_as_it_was_put(server: Server, resource_type: str) -> None:
    holds_for_generated(server, resource_type, EXAMPLES, round_trip)
