"""What every answer of the fuzz tests must be, whatever was sent: no 5xx, an OperationOutcome for every error, a
Bundle for every search; and the resources the server accepted, kept for the independent validator (run once per
test over all of them, tests.fhir_validator)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from fastapi.testclient import TestClient

from tests.fhir_validator import validator_errors


def _body(response: Any) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise AssertionError(f"{response.status_code}: the body is not JSON: {response.text[:300]!r}") from None


def sane(response: Any, sent: Any) -> Any:
    """The JSON body of ``response`` (the test client's) after checking that it is no 5xx and, for an error, an
    OperationOutcome with an issue; ``sent`` is shown when it is not."""
    where = f"{response.request.method} {response.request.url}\nsent: {str(sent)[:2000]}"
    assert response.status_code < 500, f"{response.status_code} for {where}\n{response.text[:1000]}"
    if response.status_code in {204, 304} or not response.content:
        return None
    body = _body(response)
    if response.status_code >= 400:
        assert body.get("resourceType") == "OperationOutcome", f"{response.status_code} for {where}: {body}"
        assert body.get("issue"), f"an OperationOutcome without issues for {where}: {body}"
    return body


@dataclass
class Accepted:
    """The resources a test's writes were answered 2xx for, as the server serves them afterwards."""

    client: TestClient
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    sent: dict[str, Any] = field(default_factory=dict)

    def read_back(self, resource_type: str, resource_id: str, sent: Any) -> None:
        """Keep ``resource_type/resource_id`` as now served (``sent``: what was sent, for the report)."""
        response = self.client.get(f"/fhir/{resource_type}/{resource_id}")
        body = sane(response, sent)
        assert response.status_code == 200, f"{resource_type}/{resource_id} was accepted but reads {body}"
        self.resources[f"{resource_type}/{resource_id}"] = body
        self.sent[f"{resource_type}/{resource_id}"] = sent

    def check(self, tmp_path: Path) -> None:
        """Fail when the independent validator finds an error in any accepted resource (each shown with what was
        sent)."""
        if not self.resources:
            return
        errors = validator_errors(list(self.resources.values()), tmp_path)
        shown = [f"{line}\n  sent: {str(self.sent.get(line.split(chr(9))[0]))[:1500]}" for line in errors[:20]]
        assert not errors, f"{len(errors)} errors in accepted resources:\n" + "\n".join(shown)
