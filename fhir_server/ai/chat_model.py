"""The intake-summary model: one chat completion through the official ``openai`` client, with a JSON schema.

Any OpenAI-compatible server works (OpenAI, Azure OpenAI, vLLM, Ollama): ``base_url`` picks it. The answer must
follow :data:`SUMMARY_SCHEMA` (``response_format`` type ``json_schema``, strict;
https://platform.openai.com/docs/guides/structured-outputs). The client's own retries are off: this module retries,
with exponential backoff (``Retry-After`` of a 429 is honoured up to :data:`MAX_DELAY`), a call that timed out,
could not connect, was throttled (429), failed on the server (5xx) or answered something that is not a summary
(not JSON, not the schema, a refusal, cut short). Other refusals of the request (401, 400, 404: a wrong key or
model name) are not retried. The outcome says how it ended and after how many attempts, never what was said.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam
from openai.types.shared_params import ResponseFormatJSONSchema
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fhir_server.settings import Settings

MAX_DELAY = 30.0
"""Longest wait between two attempts, in seconds."""
_LIST = {"type": "array", "items": {"type": "string"}}
SUMMARY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "summary": {"type": "string", "description": "Two to four sentences for the doctor"},
        "patient_concerns": {**_LIST, "description": "What the patient wants addressed or worries about"},
        "medications": {**_LIST, "description": "Each medication as given, with dose and frequency"},
        "allergies": {**_LIST, "description": "Each allergy, with its reaction when given"},
        "key_notes": {**_LIST, "description": "Anything else the doctor should not miss"},
    },
    "required": ["summary", "patient_concerns", "medications", "allergies", "key_notes"],
    "additionalProperties": False,
}
RESPONSE_FORMAT: dict[str, Any] = {
    "type": "json_schema",
    "json_schema": {"name": "intake_summary", "strict": True, "schema": SUMMARY_SCHEMA},
}


class SummaryResult(BaseModel):
    """A model's summary of an intake form, as the schema asks."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    summary: str = Field(min_length=1, max_length=4000)
    patient_concerns: list[str] = Field(max_length=50)
    medications: list[str] = Field(max_length=50)
    allergies: list[str] = Field(max_length=50)
    key_notes: list[str] = Field(max_length=50)


@dataclass(frozen=True)
class ModelConfig:
    """How to reach the model (from the settings ``FHIR_SERVER_OPENAI_*``)."""

    api_key: str
    base_url: str | None
    model: str
    timeout: float
    max_retries: int = 2
    backoff: float = 1.0

    @classmethod
    def of(cls, settings: Settings) -> ModelConfig | None:
        """The configuration, or None when no API key is set (the summary is then not available)."""
        if settings.openai_api_key is None:
            return None
        return cls(
            api_key=settings.openai_api_key.get_secret_value(),
            base_url=settings.openai_base_url,
            model=settings.openai_model,
            timeout=settings.openai_timeout,
            max_retries=settings.openai_max_retries,
            backoff=settings.openai_retry_backoff,
        )

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        wait = self.backoff * float(2 ** (attempt - 1))
        return min(MAX_DELAY, max(wait, retry_after or 0.0))


@dataclass(frozen=True)
class Failure:
    """Why an attempt failed: ``kind`` is timeout, unreachable, rate-limited, server-error, malformed or
    rejected; ``status`` the model server's HTTP status when it answered."""

    kind: str
    retryable: bool
    status: int | None = None
    retry_after: float | None = None


@dataclass(frozen=True)
class ModelOutcome:
    """The end of a summary request: the result, or the last failure, after ``attempts`` calls."""

    result: SummaryResult | None
    attempts: int
    failure: Failure | None = None


class MalformedOutputError(ValueError):
    """The model answered, but not with a summary."""


def parse_output(completion: Any) -> SummaryResult:
    """The summary a chat completion holds (MalformedOutputError when it holds none)."""
    choices = getattr(completion, "choices", None)
    if not choices:
        raise MalformedOutputError("no choices")
    choice = choices[0]
    message = choice.message
    if getattr(message, "refusal", None) or choice.finish_reason not in (None, "stop"):
        raise MalformedOutputError(f"no usable answer (finish reason {choice.finish_reason})")
    if not isinstance(message.content, str):
        raise MalformedOutputError("no content")
    return SummaryResult.model_validate_json(message.content)


def classify(exc: Exception) -> Failure | None:
    """The failure an exception of a call means (None: not a failure of the model call, a bug)."""
    if isinstance(exc, openai.APITimeoutError):
        return Failure("timeout", True)
    if isinstance(exc, openai.APIConnectionError):
        return Failure("unreachable", True)
    if isinstance(exc, openai.RateLimitError):
        return Failure("rate-limited", True, exc.status_code, _retry_after(exc.response.headers.get("retry-after")))
    if isinstance(exc, openai.APIStatusError):
        failed = exc.status_code >= 500
        return Failure("server-error" if failed else "rejected", failed, exc.status_code)
    if isinstance(exc, MalformedOutputError | ValidationError | openai.APIResponseValidationError | ValueError):
        return Failure("malformed", True)
    return None


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


Sleep = Callable[[float], Awaitable[None]]


async def summarize(config: ModelConfig, messages: list[dict[str, str]], sleep: Sleep = asyncio.sleep) -> ModelOutcome:
    """Ask the model for the summary of ``messages``, retrying as the module says."""
    attempts = config.max_retries + 1
    failure: Failure | None = None
    async with AsyncOpenAI(
        api_key=config.api_key, base_url=config.base_url, timeout=config.timeout, max_retries=0
    ) as client:
        for attempt in range(1, attempts + 1):
            try:
                completion = await client.chat.completions.create(
                    model=config.model,
                    messages=cast("list[ChatCompletionMessageParam]", messages),
                    response_format=cast("ResponseFormatJSONSchema", RESPONSE_FORMAT),
                )
                return ModelOutcome(parse_output(completion), attempt)
            except Exception as exc:
                failure = classify(exc)
                if failure is None:
                    raise
                if not failure.retryable:
                    return ModelOutcome(None, attempt, failure)
            if attempt < attempts:
                await sleep(config.delay(attempt, failure.retry_after))
    return ModelOutcome(None, attempts, failure)
