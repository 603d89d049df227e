"""The modules that register a kind of job (:func:`fhir_server.jobs.worker.register`), imported by every worker so
that it knows every kind. A kind's module adds itself here."""

from __future__ import annotations

import importlib

MODULES: tuple[str, ...] = ("fhir_server.fhir.bulk.job",)
"""Each module registers its kinds when imported (bulk export adds ``fhir_server.fhir.bulk.job``)."""


def load() -> None:
    """Import every module of :data:`MODULES` (each registers its kinds once)."""
    for name in MODULES:
        importlib.import_module(name)
