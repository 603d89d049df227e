"""$summarize: ``POST|GET [base]/QuestionnaireResponse/[id]/$summarize``, the AI summary of an intake form.

Defined by conformance/OperationDefinition-QuestionnaireResponse-summarize.json (operations.html#defining). POST
asks the configured OpenAI-compatible model for a summary of the response's answers (fhir_server.ai), stores it
and returns it; a summary already stored is returned as it is unless ``refresh`` is true (``?refresh=true``, or a
Parameters body with ``refresh``). GET returns the stored summary and never calls the model (404 when there is
none yet). The answer is a Parameters resource: ``questionnaireResponse``, ``status`` (generated, edited or failed),
``model``, ``generated``, ``outdated`` (the response changed since), ``summary`` and the repeating
``patientConcern``, ``medication``, ``allergy`` and ``keyNote``.

POST needs the right to update the QuestionnaireResponse, GET to read it (403). Without
``FHIR_SERVER_OPENAI_API_KEY`` the operation answers 501. A model that keeps timing out answers 504, one that keeps
failing (429, 5xx, malformed output) or refuses the request 502; the failure is recorded (status ``failed``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from fhir_server.access.context import Access, AccessContext
from fhir_server.ai import chat_model, intake_summary
from fhir_server.ai.chat_model import ModelConfig, ModelOutcome
from fhir_server.ai.intake_summary import Caller, StoredSummary
from fhir_server.app_context import app_context
from fhir_server.auth.audit_events import Origin
from fhir_server.errors import FhirError, Kind, bad_request, fail, not_found
from fhir_server.fhir import unit_of_work
from fhir_server.fhir.content import FhirResponse, check_accept, check_content_type, is_pretty
from fhir_server.fhir.request_body import parsed
from fhir_server.fhir.route_interactions import declares
from fhir_server.fhir.types import valid_id
from fhir_server.fhir.validation import check_shape, parse_json
from mappings.base import fhir_instant

router = APIRouter()
PATH = "/QuestionnaireResponse/{resource_id}/$summarize"
_ENABLE = (
    "AI summaries are not enabled on this server: set FHIR_SERVER_OPENAI_API_KEY (and FHIR_SERVER_OPENAI_BASE_URL "
    "and FHIR_SERVER_OPENAI_MODEL for a server other than OpenAI's: Azure, vLLM, Ollama) and restart it"
)
_LISTS = (
    ("patientConcern", "patient_concerns"),
    ("medication", "medications"),
    ("allergy", "allergies"),
    ("keyNote", "key_notes"),
)


@router.post(PATH, summary="$summarize", openapi_extra=declares("$summarize", "QuestionnaireResponse"))
async def summarize(resource_id: str, request: Request, access: Access) -> Response:
    check_accept(request)
    valid_id(resource_id)
    _require(access, "update")
    refresh = await _refresh(request)
    config = ModelConfig.of(app_context(request).settings)
    if config is None:
        raise fail(Kind.NOT_IMPLEMENTED, _ENABLE)
    job = await unit_of_work.read(request, intake_summary.prepare, access, resource_id)
    if job.stored is not None and job.stored.usable and not refresh:
        return FhirResponse(parameters(job.stored), pretty=is_pretty(request))
    outcome = await chat_model.summarize(config, job.messages)
    caller = Caller(access.user_id, access.client_id, Origin.of(request))
    stored = await unit_of_work.write(request, intake_summary.record, job, outcome, config.model, caller)
    if outcome.result is None:
        raise model_failure(outcome)
    return FhirResponse(parameters(stored), pretty=is_pretty(request))


@router.get(PATH, summary="$summarize (stored)", openapi_extra=declares("$summarize", "QuestionnaireResponse"))
async def stored_summary(resource_id: str, request: Request, access: Access) -> Response:
    check_accept(request)
    valid_id(resource_id)
    _require(access, "read")
    if "refresh" in request.query_params:
        raise bad_request("refresh calls the model: use POST (GET returns the stored summary)", "refresh")
    stored = await unit_of_work.read(request, intake_summary.stored_summary, access, resource_id)
    if stored is None:
        if ModelConfig.of(app_context(request).settings) is None:
            raise fail(Kind.NOT_IMPLEMENTED, _ENABLE)
        raise not_found(f"QuestionnaireResponse/{resource_id} has no summary yet: POST to $summarize to make one")
    return FhirResponse(parameters(stored), pretty=is_pretty(request))


def _require(access: AccessContext, interaction: str) -> None:
    if not access.may("QuestionnaireResponse", interaction):
        raise fail(Kind.FORBIDDEN, f"$summarize needs the right to {interaction} QuestionnaireResponse resources")


async def _refresh(request: Request) -> bool:
    """The ``refresh`` parameter, from the URL or a Parameters body (400 when it is not a boolean)."""
    values: list[Any] = []
    if "refresh" in request.query_params:
        text = request.query_params["refresh"]
        if text not in ("true", "false"):
            raise bad_request(f"refresh must be true or false (got {text!r})", "refresh", code="value")
        values.append(text == "true")
    body = await request.body()
    if body.strip():
        check_content_type(request)
        values += _body_refresh(await parsed(body, parse_json))
    return any(values)


def _body_refresh(payload: Any) -> list[Any]:
    check_shape(payload, "Parameters")
    entries = payload.get("parameter", [])
    if not isinstance(entries, list):
        raise bad_request("Parameters.parameter must be an array", "Parameters.parameter", code="structure")
    values: list[Any] = []
    for i, entry in enumerate(entries):
        expression = f"Parameters.parameter[{i}]"
        if not isinstance(entry, dict) or entry.get("name") != "refresh":
            raise bad_request("$summarize takes only the parameter refresh", expression, code="not-supported")
        if not isinstance(entry.get("valueBoolean"), bool):
            raise bad_request("refresh is a valueBoolean", f"{expression}.value", code="value")
        values.append(entry["valueBoolean"])
    return values


def model_failure(outcome: ModelOutcome) -> FhirError:
    """504 when the model kept timing out, else 502 (it kept failing, or refused the request)."""
    failure, attempts = outcome.failure, outcome.attempts
    kind = failure.kind if failure is not None else "failure"
    status = f" (HTTP {failure.status})" if failure is not None and failure.status is not None else ""
    message = f"the summary model failed: {kind}{status} after {attempts} attempt(s); the failure is recorded"
    if kind == "timeout":
        return fail(Kind.GATEWAY_TIMEOUT, message)
    return fail(Kind.BAD_GATEWAY, message, code="exception" if kind == "rejected" else "transient")


def parameters(stored: StoredSummary) -> dict[str, Any]:
    """The Parameters resource of a stored summary."""
    reference = {"reference": f"QuestionnaireResponse/{stored.response_id}"}
    found: list[dict[str, Any]] = [
        {"name": "questionnaireResponse", "valueReference": reference},
        {"name": "status", "valueCode": stored.status},
    ]
    if stored.model:
        found.append({"name": "model", "valueString": stored.model})
    if stored.generated_at is not None:
        found.append({"name": "generated", "valueInstant": fhir_instant(stored.generated_at)})
        found.append({"name": "outdated", "valueBoolean": stored.outdated})
    if stored.summary:
        found.append({"name": "summary", "valueString": stored.summary})
    for name, attribute in _LISTS:
        found += [{"name": name, "valueString": text} for text in getattr(stored, attribute) if text]
    return {"resourceType": "Parameters", "parameter": found}
