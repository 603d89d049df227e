"""Fixtures of the fuzz tests: one server per test module and database kind, with a clinic holding one resource of
every mapped type (tests.roundtrip.server), shared by every example of a module's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.roundtrip.server import Server, serving


@pytest.fixture(scope="module")
def server(module_database_url: str) -> Iterator[Server]:
    with serving(module_database_url) as running:
        yield running
