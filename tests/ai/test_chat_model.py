"""The intake-summary model call: the real ``openai`` client against a local OpenAI-compatible server."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import pytest

from fhir_server.ai.chat_model import SUMMARY_SCHEMA, ModelConfig, ModelOutcome, summarize
from fhir_server.settings import load_settings
from tests.ai.openai_server import CANNED, FakeOpenAI, Reply

MESSAGES = [{"role": "system", "content": "Summarize."}, {"role": "user", "content": '[{"question": "q"}]'}]


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI.running() as running:
        yield running


def config(server: FakeOpenAI, **overrides: object) -> ModelConfig:
    values: dict[str, object] = {
        "api_key": "test-key",
        "base_url": server.url,
        "model": "test-model",
        "timeout": 5.0,
        "max_retries": 2,
        "backoff": 0.0,
    }
    return ModelConfig(**{**values, **overrides})  # type: ignore[arg-type]


def run(server: FakeOpenAI, **overrides: object) -> ModelOutcome:
    return asyncio.run(summarize(config(server, **overrides), MESSAGES))


def test_a_canned_answer_is_the_summary(server: FakeOpenAI) -> None:
    outcome = run(server)
    assert outcome.result is not None and outcome.failure is None and outcome.attempts == 1
    assert outcome.result.model_dump() == CANNED


def test_the_request_asks_for_the_json_schema_with_the_configured_model_and_key(server: FakeOpenAI) -> None:
    run(server)
    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer test-key"
    assert request.body["model"] == "test-model"
    assert request.body["messages"] == MESSAGES
    schema = request.body["response_format"]
    assert schema["type"] == "json_schema"
    assert schema["json_schema"]["strict"] is True
    assert schema["json_schema"]["schema"] == SUMMARY_SCHEMA


@pytest.mark.parametrize(
    "bad",
    [
        Reply.content("this is not JSON"),
        Reply.content(json.dumps({"summary": "only a summary"})),
        Reply.content(json.dumps({**CANNED, "medications": "one string, not a list"})),
        Reply.content(json.dumps(CANNED), finish_reason="length"),
        Reply.content(None),
        Reply(body="<html>gateway</html>"),
    ],
    ids=["not-json", "missing-keys", "wrong-type", "cut-short", "no-content", "not-a-completion"],
)
def test_malformed_output_is_retried_then_accepted(server: FakeOpenAI, bad: Reply) -> None:
    server.script(bad)
    outcome = run(server)
    assert outcome.result is not None and outcome.attempts == 2
    assert len(server.requests) == 2


def test_malformed_output_every_time_fails_after_all_attempts(server: FakeOpenAI) -> None:
    server.default = Reply.content("{broken")
    outcome = run(server, max_retries=3)
    assert outcome.result is None and outcome.failure is not None
    assert (outcome.failure.kind, outcome.attempts, len(server.requests)) == ("malformed", 4, 4)


def test_a_slow_answer_times_out_and_is_retried(server: FakeOpenAI) -> None:
    server.script(Reply(delay=1.5))
    outcome = run(server, timeout=0.5)
    assert outcome.result is not None and outcome.attempts == 2


def test_an_answer_always_slower_than_the_timeout_fails_as_a_timeout(server: FakeOpenAI) -> None:
    server.default = Reply(delay=1.0)
    started = time.monotonic()
    outcome = run(server, timeout=0.3, max_retries=1)
    assert outcome.failure is not None and (outcome.failure.kind, outcome.attempts) == ("timeout", 2)
    assert time.monotonic() - started < 5


def test_a_429_is_retried_after_the_backoff(server: FakeOpenAI) -> None:
    server.script(Reply.error(429), Reply.error(429))
    started = time.monotonic()
    outcome = run(server, backoff=0.2)
    assert outcome.result is not None and outcome.attempts == 3
    assert time.monotonic() - started >= 0.2 + 0.4  # 0.2 s, then twice that


def test_retry_after_of_a_429_is_honoured(server: FakeOpenAI) -> None:
    server.script(Reply.error(429, {"retry-after": "0.5"}))
    started = time.monotonic()
    outcome = run(server)
    assert outcome.result is not None and time.monotonic() - started >= 0.5


def test_server_errors_are_retried_and_reported_with_their_status(server: FakeOpenAI) -> None:
    server.default = Reply.error(503)
    outcome = run(server, max_retries=2)
    assert outcome.failure is not None
    assert (outcome.failure.kind, outcome.failure.status, outcome.attempts) == ("server-error", 503, 3)


def test_a_rejected_request_is_not_retried(server: FakeOpenAI) -> None:
    server.default = Reply.error(401)
    outcome = run(server)
    assert outcome.failure is not None
    assert (outcome.failure.kind, outcome.failure.status, outcome.attempts) == ("rejected", 401, 1)
    assert len(server.requests) == 1


def test_an_unreachable_server_fails_as_unreachable() -> None:
    with FakeOpenAI.running() as gone:
        url = gone.url
    cfg = ModelConfig("test-key", url, "test-model", 1.0, max_retries=1, backoff=0.0)
    outcome = asyncio.run(summarize(cfg, MESSAGES))
    assert outcome.failure is not None and (outcome.failure.kind, outcome.attempts) == ("unreachable", 2)


def test_no_configuration_without_an_api_key() -> None:
    assert ModelConfig.of(load_settings(openai_api_key=None)) is None
    configured = ModelConfig.of(load_settings(openai_api_key="k", openai_timeout=7, openai_model="llama3"))
    assert configured is not None and (configured.api_key, configured.timeout, configured.model) == ("k", 7, "llama3")


def test_the_backoff_doubles_and_is_capped() -> None:
    cfg = ModelConfig("k", None, "m", 1.0, backoff=1.0)
    assert [cfg.delay(n, None) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]
    assert cfg.delay(10, None) == 30.0
    assert cfg.delay(1, 5.0) == 5.0
