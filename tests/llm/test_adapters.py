"""The provider adapters against a real loopback server speaking each wire format, the
Retry-After parser and the price table."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from batonflow.errors import (
    ConfigError,
    ModelError,
    ModelRateLimited,
    ModelRejected,
    ModelTimeout,
    ModelUnavailable,
)
from batonflow.llm import anthropic as anthropic_adapter
from batonflow.llm import openai as openai_adapter
from batonflow.llm.anthropic import AnthropicModel
from batonflow.llm.messages import (
    AssistantMessage,
    ModelRequest,
    ModelResponse,
    SystemMessage,
    ToolCall,
    ToolMessage,
    Usage,
    UserMessage,
)
from batonflow.llm.model import Model, parse_retry_after
from batonflow.llm.openai import OpenAIModel
from batonflow.llm.prices import load_prices
from batonflow_testkit.fakeserver import Behaviour, Fail, FakeProvider, Hang, Malformed, Reply

MINI = "gpt-4.1-mini"
HAIKU = "claude-haiku-4-5"

HELLO = ModelRequest(messages=(UserMessage(content="Say hello"),))
SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "integer"}},
    "required": ["answer"],
}
STRUCTURED = ModelRequest(messages=(UserMessage(content="What is 6 x 7?"),), output_schema=SCHEMA)


@pytest.fixture
async def server() -> AsyncIterator[FakeProvider]:
    async with FakeProvider() as provider:
        yield provider


@pytest.fixture
async def openai_model(server: FakeProvider) -> AsyncIterator[OpenAIModel]:
    sdk = openai_adapter.client("sk-test", server.openai_url)
    yield OpenAIModel(MINI, sdk)
    await sdk.close()


@pytest.fixture
async def anthropic_model(server: FakeProvider) -> AsyncIterator[AnthropicModel]:
    sdk = anthropic_adapter.client("sk-ant-test", server.url)
    yield AnthropicModel(HAIKU, sdk)
    await sdk.close()


@pytest.fixture(params=["openai", "anthropic"])
def model(request: pytest.FixtureRequest) -> Model:
    fixture = f"{request.param}_model"
    return request.getfixturevalue(fixture)  # type: ignore[no-any-return]


def deltas() -> tuple[list[str], Callable[[str], None]]:
    seen: list[str] = []
    return seen, seen.append


# -- OpenAI ------------------------------------------------------------------------------------

OPENAI_USAGE = Reply(
    "hello from openai",
    input_tokens=1200,
    output_tokens=300,
    cached_input_tokens=1000,
    reasoning_tokens=120,
)
OPENAI_RESPONSE = ModelResponse(
    text="hello from openai",
    usage=Usage(
        input_tokens=1200, output_tokens=300, cached_input_tokens=1000, reasoning_tokens=120
    ),
    finish_reason="stop",
    provider_model=MINI,
)


async def test_openai_reply_is_normalised(server: FakeProvider, openai_model: OpenAIModel) -> None:
    server.script(OPENAI_USAGE)

    response = await openai_model.request(HELLO, timeout=5)

    assert response == OPENAI_RESPONSE
    assert (server.requests[-1].path, server.requests[-1].body) == (
        "/v1/chat/completions",
        {
            "model": MINI,
            "messages": [{"role": "user", "content": "Say hello"}],
            "max_completion_tokens": 512,
        },
    )


async def test_openai_stream_sends_deltas_in_order_and_ends_with_usage(
    server: FakeProvider, openai_model: OpenAIModel
) -> None:
    server.script(OPENAI_USAGE)
    seen, sink = deltas()

    response = await openai_model.request(HELLO, timeout=5, on_text=sink)

    assert response == OPENAI_RESPONSE
    assert seen == ["hell", "o fr", "om o", "pena", "i"]
    assert "".join(seen) == response.text
    assert server.requests[-1].body == {
        "model": MINI,
        "messages": [{"role": "user", "content": "Say hello"}],
        "max_completion_tokens": 512,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


async def test_openai_request_options_and_conversation_on_the_wire(
    server: FakeProvider, openai_model: OpenAIModel
) -> None:
    request = ModelRequest(
        messages=(
            SystemMessage(content="Be brief."),
            UserMessage(content="Weather in Oslo?"),
            AssistantMessage(
                tool_calls=(ToolCall(id="call_1", name="weather", arguments={"city": "Oslo"}),)
            ),
            ToolMessage(tool_call_id="call_1", content="4 degrees"),
        ),
        max_tokens=64,
        temperature=0.2,
        stop=("END",),
    )

    await openai_model.request(request, timeout=5)

    assert server.requests[-1].body == {
        "model": MINI,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Oslo?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "4 degrees"},
        ],
        "max_completion_tokens": 64,
        "temperature": 0.2,
        "stop": ["END"],
    }


async def test_openai_compatible_server_gets_plain_max_tokens(server: FakeProvider) -> None:
    sdk = openai_adapter.client(None, server.openai_url)
    compat = OpenAIModel("llama3", sdk, provider="ollama", compat=True)
    try:
        response = await compat.request(HELLO, timeout=5)
    finally:
        await sdk.close()

    assert (compat.qualified, response.text, server.requests[-1].body) == (
        "ollama:llama3",
        "ok",
        {
            "model": "llama3",
            "messages": [{"role": "user", "content": "Say hello"}],
            "max_tokens": 512,
        },
    )


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_openai_structured_output_asks_for_a_json_schema(
    server: FakeProvider, openai_model: OpenAIModel, stream: bool
) -> None:
    server.script(Reply('{"answer": 42}'))
    seen, sink = deltas()

    response = await openai_model.request(STRUCTURED, timeout=5, on_text=sink if stream else None)

    assert response == ModelResponse(
        text='{"answer": 42}',
        usage=Usage(input_tokens=10, output_tokens=5),
        finish_reason="stop",
        provider_model=MINI,
    )
    assert server.requests[-1].body["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": SCHEMA},
    }
    assert seen == (['{"an', "swer", '": 4', "2}"] if stream else [])


# -- Anthropic ---------------------------------------------------------------------------------

ANTHROPIC_USAGE = Reply(
    "hello from claude",
    input_tokens=1200,
    output_tokens=300,
    cached_input_tokens=800,
    cache_write_tokens=300,
)
ANTHROPIC_RESPONSE = ModelResponse(
    text="hello from claude",
    usage=Usage(
        input_tokens=1200, output_tokens=300, cached_input_tokens=800, cache_write_tokens=300
    ),
    finish_reason="end_turn",
    provider_model=HAIKU,
)


async def test_anthropic_reply_is_normalised(
    server: FakeProvider, anthropic_model: AnthropicModel
) -> None:
    server.script(ANTHROPIC_USAGE)

    response = await anthropic_model.request(HELLO, timeout=5)

    assert response == ANTHROPIC_RESPONSE
    assert (server.requests[-1].path, server.requests[-1].body) == (
        "/v1/messages",
        {
            "model": HAIKU,
            "max_tokens": 512,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hello"}]}],
        },
    )


async def test_anthropic_stream_sends_deltas_in_order_and_ends_with_usage(
    server: FakeProvider, anthropic_model: AnthropicModel
) -> None:
    server.script(ANTHROPIC_USAGE)
    seen, sink = deltas()

    response = await anthropic_model.request(HELLO, timeout=5, on_text=sink)

    assert response == ANTHROPIC_RESPONSE
    assert seen == ["hell", "o fr", "om c", "laud", "e"]
    assert "".join(seen) == response.text
    assert server.requests[-1].body["stream"] is True


async def test_anthropic_system_messages_go_to_system_and_turns_are_merged(
    server: FakeProvider, anthropic_model: AnthropicModel
) -> None:
    request = ModelRequest(
        messages=(
            SystemMessage(content="Be brief."),
            SystemMessage(content="Answer in English."),
            UserMessage(content="Weather in Oslo?"),
            AssistantMessage(
                content="Let me look.",
                tool_calls=(ToolCall(id="toolu_1", name="weather", arguments={"city": "Oslo"}),),
            ),
            ToolMessage(tool_call_id="toolu_1", content="4 degrees"),
            UserMessage(content="And tomorrow?"),
        ),
        max_tokens=64,
        stop=("END",),
    )

    await anthropic_model.request(request, timeout=5)

    assert server.requests[-1].body == {
        "model": HAIKU,
        "max_tokens": 64,
        "system": "Be brief.\n\nAnswer in English.",
        "stop_sequences": ["END"],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "Weather in Oslo?"}]},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me look."},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "weather",
                        "input": {"city": "Oslo"},
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "4 degrees"},
                    {"type": "text", "text": "And tomorrow?"},
                ],
            },
        ],
    }


async def test_anthropic_request_with_a_temperature_goes_out_without_it(
    server: FakeProvider, anthropic_model: AnthropicModel
) -> None:
    # The pinned SDK's Messages API takes no temperature; the step's value is not sent.
    request = ModelRequest(messages=(UserMessage(content="Say hello"),), temperature=1.7)

    response = await anthropic_model.request(request, timeout=5)

    assert (response.text, len(server.requests)) == ("ok", 1)
    assert "temperature" not in server.requests[0].body


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_anthropic_structured_output_is_a_forced_respond_tool(
    server: FakeProvider, anthropic_model: AnthropicModel, stream: bool
) -> None:
    server.script(Reply('{"answer": 42}'))
    seen, sink = deltas()

    response = await anthropic_model.request(
        STRUCTURED, timeout=5, on_text=sink if stream else None
    )

    assert response == ModelResponse(
        text=json.dumps({"answer": 42}),
        usage=Usage(input_tokens=10, output_tokens=5),
        finish_reason="tool_use",
        provider_model=HAIKU,
    )
    body = server.requests[-1].body
    assert (body["tools"], body["tool_choice"]) == (
        [
            {
                "name": "respond",
                "description": "Give the final answer in the required shape.",
                "input_schema": SCHEMA,
            }
        ],
        {"type": "tool", "name": "respond"},
    )
    assert seen == (['{"an', "swer", '": 4', "2}"] if stream else [])


# -- errors, the same for both -------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize(
    ("behaviour", "error", "details"),
    [
        (Fail(429, retry_after=7), ModelRateLimited, {"status": 429, "retry_after": 7.0}),
        (Fail(429), ModelRateLimited, {"status": 429, "retry_after": None}),
        (Fail(500), ModelUnavailable, {"status": 500}),
        (Fail(529), ModelUnavailable, {"status": 529}),
        (Fail(408), ModelTimeout, {"status": 408}),
        (Fail(400), ModelRejected, {"status": 400}),
        (Fail(401), ModelRejected, {"status": 401}),
    ],
    ids=["429-retry-after", "429", "500", "529", "408", "400", "401"],
)
async def test_http_errors_are_classified(
    server: FakeProvider,
    model: Model,
    behaviour: Behaviour,
    error: type[ModelError],
    details: dict[str, Any],
    stream: bool,
) -> None:
    server.script(behaviour)
    qualified = f"{model.provider}:{model.name}"

    with pytest.raises(ModelError) as caught:
        await model.request(HELLO, timeout=5, on_text=(lambda _: None) if stream else None)

    assert type(caught.value) is error
    assert caught.value.details == {"model": qualified, **details}
    assert caught.value.retryable is (error is not ModelRejected)
    assert caught.value.message.startswith(f"{qualified} answered {details['status']}: ")


@pytest.mark.parametrize(
    "body", [b"{this is not json", b'{"ok": 1}'], ids=["not-json", "no-content"]
)
async def test_a_malformed_reply_is_unavailable(
    server: FakeProvider, model: Model, body: bytes
) -> None:
    server.script(Malformed(body))
    qualified = f"{model.provider}:{model.name}"

    with pytest.raises(ModelUnavailable) as caught:
        await model.request(HELLO, timeout=5)

    assert caught.value.details == {"model": qualified, "status": None}


async def test_a_malformed_reply_to_a_stream_is_unavailable(
    server: FakeProvider, model: Model
) -> None:
    server.script(Malformed())

    with pytest.raises(ModelUnavailable):
        await model.request(HELLO, timeout=5, on_text=lambda _: None)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
async def test_no_answer_within_the_timeout_is_a_timeout(
    server: FakeProvider, model: Model, stream: bool
) -> None:
    server.script(Hang(2))
    qualified = f"{model.provider}:{model.name}"

    with pytest.raises(ModelTimeout) as caught:
        await model.request(HELLO, timeout=0.3, on_text=(lambda _: None) if stream else None)

    assert (caught.value.message, caught.value.details) == (
        f"{qualified} did not answer in 0.3s",
        {"model": qualified, "status": None},
    )


async def test_a_refused_connection_is_unavailable() -> None:
    async with FakeProvider() as gone:
        url = gone.url
    sdk = anthropic_adapter.client("sk-ant-test", url)
    try:
        with pytest.raises(ModelUnavailable) as caught:
            await AnthropicModel(HAIKU, sdk).request(HELLO, timeout=5)
    finally:
        await sdk.close()

    assert (caught.value.message, caught.value.details) == (
        f"cannot reach anthropic:{HAIKU}: Connection error.",
        {"model": f"anthropic:{HAIKU}", "status": None},
    )


# -- Retry-After -----------------------------------------------------------------------------

NOW = datetime(2015, 10, 21, 7, 28, tzinfo=UTC).timestamp()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after-ms": "soon", "retry-after": "9"}, 9.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:30 GMT"}, 30.0),
        ({"retry-after": "Wed, 21 Oct 2015 07:27:00 GMT"}, 0.0),
        ({"retry-after": "after lunch"}, None),
        ({"retry-after": ""}, None),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers, now=NOW) == expected


def test_parse_retry_after_reads_http_headers_in_any_case() -> None:
    headers = httpx.Headers({"Retry-After-Ms": "1500", "Retry-After": "3"})

    assert parse_retry_after(headers) == 1.5


# -- prices ----------------------------------------------------------------------------------


def test_openai_cost_counts_cached_input_and_reasoning_at_their_prices() -> None:
    usage = Usage(
        input_tokens=1_000_000,
        output_tokens=200_000,
        cached_input_tokens=400_000,
        reasoning_tokens=50_000,
    )

    small = Usage(input_tokens=1234, output_tokens=56, cached_input_tokens=1000, reasoning_tokens=6)

    # 600k plain input at 0.40, 400k cached at 0.10, 150k output + 50k reasoning at 1.60
    assert load_prices().cost("openai:gpt-4.1-mini", usage) == Decimal("0.60")
    # 234 * 0.40 + 1000 * 0.10 + 56 * 1.60 = 283.2 millionths
    assert load_prices().cost("openai:gpt-4.1-mini", small) == Decimal("0.0002832")


def test_anthropic_cost_counts_cache_reads_and_writes() -> None:
    usage = Usage(
        input_tokens=1200, output_tokens=300, cached_input_tokens=800, cache_write_tokens=300
    )

    # 100 plain input at 1.00, 800 read at 0.10, 300 written at 1.25, 300 output at 5.00
    assert load_prices().cost("anthropic:claude-haiku-4-5", usage) == Decimal("0.002055")


def test_local_model_is_free_and_an_unknown_model_has_no_cost() -> None:
    prices = load_prices()
    usage = Usage(input_tokens=500, output_tokens=100)

    assert (prices.cost("local:smollm2", usage), prices.cost("openai:gpt-9000", usage)) == (
        Decimal(0),
        None,
    )


def test_a_missing_price_falls_back_to_the_plain_price(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(
        json.dumps({"version": "test-1", "models": {"x:y": {"input": "2", "output": "10"}}})
    )
    usage = Usage(
        input_tokens=1000,
        output_tokens=100,
        cached_input_tokens=300,
        cache_write_tokens=200,
        reasoning_tokens=40,
    )

    table = load_prices(path)

    assert (table.version, table.cost("x:y", usage)) == ("test-1", Decimal("0.003"))


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "is not a valid price table: "),
        (
            '{"version": "v1", "models": {"x:y": {"input": "cheap", "output": "1"}}}',
            "is not a valid price table: ",
        ),
        ('{"models": {}}', "is not a valid price table: "),
    ],
    ids=["not-json", "bad-price", "no-version"],
)
def test_a_bad_price_table_is_a_config_error(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "prices.json"
    path.write_text(content)

    with pytest.raises(ConfigError) as caught:
        load_prices(path)

    assert caught.value.message.startswith(f"{path} {problem}")


def test_a_missing_price_table_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "missing.json"

    with pytest.raises(ConfigError) as caught:
        load_prices(path)

    assert caught.value.message.startswith(f"BATONFLOW_PRICE_TABLE: cannot read {path}: ")
