"""Fixtures of the resource-store tests: the interaction tests' app, clinic and patients."""

from tests.fhir.interactions.conftest import base_url, client, clinic, make_patient

__all__ = ["base_url", "client", "clinic", "make_patient"]
