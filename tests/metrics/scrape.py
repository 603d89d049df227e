"""Reading ``/metrics`` in tests: the exposition parsed by prometheus-client's own parser."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

SECRET = "metrics-secret-for-the-tests-0123"
"""FHIR_SERVER_METRICS_TOKEN of the tests' servers."""
HEADERS = {"Authorization": f"Bearer {SECRET}"}


@dataclass(frozen=True)
class Scrape:
    """One scrape: (sample name, sorted label pairs) -> value."""

    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]
    text: str

    @classmethod
    def parse(cls, text: str) -> Scrape:
        samples = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return cls(samples, text)

    def value(self, name: str, **labels: str) -> float:
        """The sample's value; 0 when it is absent (a counter not yet moved)."""
        return self.samples.get((name, tuple(sorted(labels.items()))), 0.0)

    def labels_of(self, name: str) -> list[dict[str, str]]:
        """The label sets of every sample named ``name``."""
        return [dict(labels) for sample, labels in self.samples if sample == name]


def scrape(client: Any, prefix: str = "") -> Scrape:
    """Scrape ``client``'s server (``prefix``: its root URL when the client has no base URL)."""
    response = client.get(f"{prefix}/metrics", headers=HEADERS)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return Scrape.parse(response.text)
