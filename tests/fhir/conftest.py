"""The authorization dimension of the FHIR tests: a client fixture that takes ``auth_mode`` runs each test twice,
with authorization off and on (:mod:`tests.authorized_client`), e.g. ``[sqlite-off]`` and ``[postgresql-on]``.

A test that cannot run in one clinic with a clinic-bound token (it works across clinics, or tests the open server
itself) is marked ``@pytest.mark.auth_off_only(reason=...)``: its ``on`` run is deselected.
"""

from __future__ import annotations

import pytest

from tests.authorized_client import AUTH_MODES


@pytest.fixture(params=AUTH_MODES)
def auth_mode(request: pytest.FixtureRequest) -> str:
    """``off`` or ``on``: how the test's client reaches the server."""
    mode: str = request.param
    return mode


@pytest.fixture(scope="module", params=AUTH_MODES)
def module_auth_mode(request: pytest.FixtureRequest) -> str:
    """Like ``auth_mode``, for a client shared by the tests of one module (``module_database_url``)."""
    mode: str = request.param
    return mode


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the ``on`` runs of tests marked ``auth_off_only``."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        on = "on" in (params.get("auth_mode"), params.get("module_auth_mode"))
        (dropped if on and item.get_closest_marker("auth_off_only") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
