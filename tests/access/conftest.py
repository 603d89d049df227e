"""Fixtures of the access policy's tests: the same app with authorization enabled, clinic and browser as the
authorization server's tests (:mod:`tests.auth.conftest`), since real tokens come from that server."""

from __future__ import annotations

from tests.auth.conftest import browser, client, clinic

__all__ = ["browser", "client", "clinic"]
