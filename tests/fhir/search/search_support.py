"""Helpers of the search tests: the public base URL the test server believes it has, and HTTP helpers that
fail the test with the server's answer when a write or a search does not succeed."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

PUBLIC_BASE_URL = "https://fhir.example.org/r4"
Json = dict[str, Any]


def create(client: TestClient, resource: Json) -> Json:
    """POST ``resource``; the stored resource (fails the test on anything but 201)."""
    response = client.post(f"/fhir/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, f"{resource}\n{response.text}"
    stored: Json = response.json()
    return stored


def search(client: TestClient, resource_type: str, params: list[tuple[str, str]]) -> Json:
    """The searchset Bundle of ``GET [base]/[type]?params`` (fails the test on anything but 200)."""
    response = client.get(f"/fhir/{resource_type}", params=tuple(params))
    assert response.status_code == 200, f"{resource_type}?{params}\n{response.text}"
    bundle: Json = response.json()
    return bundle


def ids(bundle: Json, mode: str = "match") -> list[str]:
    """The ids of the entries of ``bundle`` with search mode ``mode``, in order."""
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e.get("search", {}).get("mode") == mode]


def found(client: TestClient, resource_type: str, resource_id: str, *criteria: tuple[str, str]) -> bool | str:
    """Whether the criteria (together with ``_id``) find the resource; an error text when the search fails."""
    response = client.get(f"/fhir/{resource_type}", params=[("_id", resource_id), *criteria])
    if response.status_code != 200:
        return f"HTTP {response.status_code}: {response.text[:300]}"
    return resource_id in ids(response.json())
