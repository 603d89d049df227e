"""The round-trip properties for Organization, in a module (and so a database) of its own: every Organization written
is data of the clinic (issue 14; before, each was a new clinic of its own), and the many it writes stay apart from
the other types' tests."""

from __future__ import annotations

from tests.roundtrip.checks import round_trip
from tests.roundtrip.internal_changes import changed_inside
from tests.roundtrip.properties import holds_for_generated
from tests.roundtrip.server import Server
from tests.roundtrip.test_internal_changes import EXAMPLES as CHANGE_EXAMPLES
from tests.roundtrip.test_lossless_roundtrip import EXAMPLES


def test_a_valid_organization_reads_back_as_it_was_put(server: Server) -> None:
    holds_for_generated(server, "Organization", EXAMPLES, round_trip)


def test_an_organization_column_changed_inside_the_server_is_a_new_version_showing_the_change(server: Server) -> None:
    holds_for_generated(server, "Organization", CHANGE_EXAMPLES, changed_inside)
