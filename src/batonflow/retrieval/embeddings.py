"""Embedding models, by name: `local:minilm-l6-v2` runs in-process (`minilm.py`), in a worker
thread so the loop keeps serving during a large upload; `openai:<model>` calls any
OpenAI-compatible `/embeddings` endpoint and records each call in the gateway's ledger. An
`Embedder` turns texts into unit-length float32 rows.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
import numpy as np
from numpy.typing import NDArray

from batonflow.errors import ConfigError, InvalidInput, ModelUnavailable
from batonflow.llm.ledger import Accounts, CallScope
from batonflow.llm.records import CallRecord
from batonflow.retrieval import minilm
from batonflow.settings import Settings

LOCAL = f"local:{minilm.NAME}"
Vectors = NDArray[np.float32]


class Embedder(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def dimensions(self) -> int: ...

    async def embed(self, texts: Sequence[str]) -> Vectors: ...


class LocalEmbedder:
    """all-MiniLM-L6-v2 from the installed package, loaded once per process."""

    name = LOCAL
    dimensions = minilm.DIMENSIONS

    async def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        model = await asyncio.to_thread(minilm.load)
        return await asyncio.to_thread(model.embed, list(texts))


@dataclass
class OpenAIEmbedder:
    """An OpenAI-compatible embeddings endpoint: POST {base_url}/embeddings. With `accounts`
    and `scope`, each call (its input tokens and cost, or its failure) goes to the ledger."""

    model: str
    dimensions: int
    base_url: str
    api_key: str | None = None
    client: httpx.AsyncClient | None = None
    accounts: Accounts | None = None
    scope: CallScope | None = None
    calls: list[CallRecord] | None = None  # a step's calls, for its `llm.call` events

    @property
    def name(self) -> str:
        return f"openai:{self.model}"

    async def embed(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        started = time.monotonic()
        tokens = 0
        try:
            vectors, tokens = await self._call(list(texts))
        except ModelUnavailable as exc:
            await self._record(texts, started, error=exc)
            raise
        await self._record(texts, started, tokens=tokens)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        out: Vectors = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
        return out

    async def _call(self, texts: list[str]) -> tuple[Vectors, int]:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body: dict[str, Any] = {"model": self.model, "input": texts, "encoding_format": "float"}
        client = self.client or httpx.AsyncClient(timeout=60)
        try:
            response = await client.post(
                self.base_url.rstrip("/") + "/embeddings", json=body, headers=headers
            )
        except httpx.HTTPError as exc:
            raise ModelUnavailable(f"the embeddings endpoint failed: {exc!r}") from exc
        finally:
            if self.client is None:
                await client.aclose()
        if response.status_code >= 400:
            raise ModelUnavailable(
                f"the embeddings endpoint answered {response.status_code}: {response.text[:200]}"
            )
        try:
            answer = response.json()
            rows = sorted(answer["data"], key=lambda row: row["index"])
            vectors = np.asarray([row["embedding"] for row in rows], dtype=np.float32)
            tokens = int((answer.get("usage") or {}).get("prompt_tokens") or 0)
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelUnavailable(
                f"the embeddings endpoint's answer is not an embeddings list: {exc!r}"
            ) from exc
        if vectors.shape != (len(texts), self.dimensions):
            raise ModelUnavailable(
                f"the embeddings endpoint returned shape {vectors.shape}, "
                f"expected ({len(texts)}, {self.dimensions})"
            )
        return vectors, tokens

    async def _record(
        self,
        texts: Sequence[str],
        started: float,
        *,
        tokens: int = 0,
        error: Exception | None = None,
    ) -> None:
        if self.accounts is None or self.scope is None:
            return
        digest = hashlib.sha256("\x1e".join(texts).encode()).hexdigest()
        call = await self.accounts.record_embeddings(
            self.scope,
            self.name,
            f"sha256:{digest}",
            input_tokens=tokens,
            error=error,
            latency=time.monotonic() - started,
        )
        if self.calls is not None:
            self.calls.append(call)


@dataclass(frozen=True)
class Embedders:
    """Which embedder a knowledge base's model name means in this process."""

    openai_base_url: str | None = None
    openai_api_key: str | None = None
    factories: dict[str, Callable[[], Embedder]] | None = None
    accounts: Accounts | None = None  # where calls to a paid endpoint are recorded

    @classmethod
    def of(cls, settings: Settings, accounts: Accounts | None = None) -> Embedders:
        """The embedders the settings configure, recording paid calls in `accounts`."""
        key = settings.embeddings_api_key
        return cls(
            openai_base_url=settings.embeddings_base_url,
            openai_api_key=key.get_secret_value() if key is not None else None,
            accounts=accounts,
        )

    def dimensions(self, name: str, requested: int | None = None) -> int:
        """The vector width of the model a new knowledge base asks for; `InvalidInput` when this
        server cannot embed with it."""
        if self.factories and name in self.factories:
            return self.factories[name]().dimensions
        if name == LOCAL:
            return minilm.DIMENSIONS
        if name.startswith("openai:"):
            if not self.openai_base_url:
                raise InvalidInput(
                    f"this server has no embeddings endpoint for '{name}' "
                    f"(BATONFLOW_EMBEDDINGS_BASE_URL is not set); use '{LOCAL}'"
                )
            if not requested:
                raise InvalidInput("an openai: embedding model needs its dimensions")
            return requested
        raise InvalidInput(f"unknown embedding model '{name}'; use '{LOCAL}' or 'openai:<model>'")

    def get(
        self,
        name: str,
        dimensions: int,
        scope: CallScope | None = None,
        calls: list[CallRecord] | None = None,
    ) -> Embedder:
        """The embedder for a knowledge base's model; a paid endpoint's calls are recorded as
        `scope`'s (the tenant, and the run and step when a run embeds) and added to `calls`."""
        if self.factories and name in self.factories:
            return self.factories[name]()
        if name == LOCAL:
            return _LOCAL
        if name.startswith("openai:"):
            if not self.openai_base_url:
                raise ConfigError("an openai: embedding model needs BATONFLOW_EMBEDDINGS_BASE_URL")
            return OpenAIEmbedder(
                name.removeprefix("openai:"),
                dimensions,
                self.openai_base_url,
                self.openai_api_key,
                accounts=self.accounts,
                scope=scope,
                calls=calls,
            )
        raise ConfigError(f"unknown embedding model '{name}'")


_LOCAL = LocalEmbedder()
