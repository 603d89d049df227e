"""A change made through the internal tables shows in FHIR at once with a new version (issue 3, item 9), for
generated resources of every served type but Organization (test_organization_roundtrip.py: a new Organization is a
new clinic)."""

from __future__ import annotations

import pytest

from tests.roundtrip.internal_changes import changed_inside
from tests.roundtrip.properties import holds_for_generated
from tests.roundtrip.server import Server
from tests.roundtrip.test_lossless_roundtrip import TYPES

EXAMPLES = {"sqlite": 10, "postgresql": 4}


@pytest.mark.parametrize("resource_type", TYPES)
def test_a_column_changed_inside_the_server_is_a_new_version_showing_the_change(
    server: Server, resource_type: str
) -> None:
    holds_for_generated(server, resource_type, EXAMPLES, changed_inside)
