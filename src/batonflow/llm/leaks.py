"""What must not leave the platform in text a model wrote: the installation's secrets, strings
shaped like credentials, and the system prompt that produced the text.

    check = LeakCheck.of(settings)                # the installation's secrets, from its settings
    found = check.with_prompts(system).find(text) # [] when the text may leave
    clean = check.redact(text)                    # each find replaced by `[redacted: <what>]`

The rules, each a `Leak.kind`:

- `secret`: the value of a secret-typed setting (`SecretStr`: the signing key, provider and
  embedding API keys, the metrics token, the Sentry DSN, the SMTP password) or the password in a
  URL setting (database, broker, Redis), 8 characters or longer, appears verbatim. Shorter values
  are not looked for: they would match ordinary words.
- `credential`: a string shaped like a credential of any installation (`SHAPES`): Batonflow API
  keys, OpenAI/Anthropic-style `sk-` keys, AWS access key ids and secret keys, GitHub and Slack
  tokens, Google API keys, Stripe keys, JWTs, PEM private keys, `Bearer` tokens and a password
  in a URL (a user and a password before the host).
- `system_prompt`: the text shares a run of `SHINGLE` (8) consecutive words with a system
  prompt, compared word by word without case, punctuation or spacing (so re-wrapping or
  re-punctuating a prompt still counts). A system prompt shorter than 8 words is not checked.
  The platform's own data notice (`untrusted.NOTICE`) is public and never a system prompt here.

What it does not find: a secret or a prompt re-encoded (base64, spelled out, translated,
paraphrased) or cut into pieces shorter than the rules. It is the last net, not the defence
that keeps untrusted text from steering a model (grants and the gate are).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretStr

from batonflow.llm.untrusted import NOTICE

SHINGLE = 8
MIN_SECRET = 8
ENV_PREFIX = "BATONFLOW_"

SHAPES: dict[str, re.Pattern[str]] = {
    "Batonflow API key": re.compile(r"\bbf_[A-Za-z0-9_-]{20,}"),
    "API key (sk-)": re.compile(r"\bsk-[A-Za-z0-9_-]{20,}"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "AWS secret access key": re.compile(r"(?i)aws_?secret_?access_?key\W{0,4}[A-Za-z0-9/+=]{40}"),
    "GitHub token": re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_-]{35}"),
    "Stripe key": re.compile(r"\b(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}"),
    "JWT": re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    "PEM private key": re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"),
    "bearer token": re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/-]{20,}=*"),
    "password in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s/:@]+:[^\s/@]+@[^\s/]+"),
}
WORD = re.compile(r"\w+")


def _any_of(patterns: Iterable[re.Pattern[str]]) -> re.Pattern[str]:
    """One pattern that matches where any of `patterns` does (a leading `(?i)` kept to its
    own alternative)."""
    parts = []
    for pattern in patterns:
        text = pattern.pattern
        parts.append(f"(?i:{text[4:]})" if text.startswith("(?i)") else f"(?:{text})")
    return re.compile("|".join(parts))


# Most text holds no credential: one search rules out every shape before each is looked for.
ANY_SHAPE = _any_of(SHAPES.values())

Kind = Literal["secret", "credential", "system_prompt"]


@dataclass(frozen=True, slots=True)
class Leak:
    """One find: its kind, what it is (a setting's name, a credential's shape, `system prompt`;
    never the value) and where it is in the text."""

    kind: Kind
    name: str
    start: int
    end: int

    @property
    def label(self) -> str:
        return "system prompt" if self.kind == "system_prompt" else f"{self.kind}: {self.name}"


def secrets_of(*sources: BaseModel) -> dict[str, str]:
    """The secret values of settings objects, by their environment variable's name."""
    found: dict[str, str] = {}
    for source in sources:
        prefix = str(source.model_config.get("env_prefix", ENV_PREFIX)).upper()
        for name in type(source).model_fields:
            value = getattr(source, name)
            secret: str | None = None
            if isinstance(value, SecretStr):
                secret = value.get_secret_value()
            elif isinstance(value, str) and "://" in value:
                try:
                    secret = urlsplit(value).password
                except ValueError:
                    secret = None
            if secret and len(secret) >= MIN_SECRET:
                found[f"{prefix}{name.upper()}"] = secret
    return found


def _words(text: str) -> list[re.Match[str]]:
    return list(WORD.finditer(text))


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = [m.group().casefold() for m in _words(text)]
    return {tuple(words[i : i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


@dataclass(frozen=True, slots=True)
class LeakCheck:
    """The checker for one installation (its secrets) and, with `with_prompts`, one step."""

    secrets: Mapping[str, str] = field(default_factory=dict)
    prompts: tuple[frozenset[tuple[str, ...]], ...] = ()

    @classmethod
    def of(cls, *settings: BaseModel) -> LeakCheck:
        return cls(secrets=secrets_of(*settings))

    def with_secrets(self, extra: Mapping[str, str]) -> LeakCheck:
        """The same check, looking for more secrets too (an app's own settings)."""
        kept = {name: value for name, value in extra.items() if len(value) >= MIN_SECRET}
        return LeakCheck({**self.secrets, **kept}, self.prompts)

    def with_prompts(self, *prompts: str | None) -> LeakCheck:
        """The same check, looking for the text of these system prompts too."""
        texts = (p.replace(NOTICE, " ") for p in prompts if p)
        added = tuple(frozenset(s) for text in texts if (s := _shingles(text)))
        return LeakCheck(self.secrets, self.prompts + added) if added else self

    def find(self, text: str) -> list[Leak]:
        """Every leak in `text`, in the order they start."""
        found: list[Leak] = []
        for name, value in self.secrets.items():
            start = text.find(value)
            while start >= 0:
                found.append(Leak("secret", name, start, start + len(value)))
                start = text.find(value, start + 1)
        if ANY_SHAPE.search(text) is not None:
            for name, pattern in SHAPES.items():
                found += [
                    Leak("credential", name, m.start(), m.end()) for m in pattern.finditer(text)
                ]
        if self.prompts:
            found += self._prompt_runs(text)
        return sorted(found, key=lambda leak: (leak.start, -leak.end)) if found else found

    def _prompt_runs(self, text: str) -> list[Leak]:
        words = _words(text)
        folded = [m.group().casefold() for m in words]
        runs: list[Leak] = []
        for i in range(len(words) - SHINGLE + 1):
            shingle = tuple(folded[i : i + SHINGLE])
            if not any(shingle in prompt for prompt in self.prompts):
                continue
            start, end = words[i].start(), words[i + SHINGLE - 1].end()
            if runs and start <= runs[-1].end:
                runs[-1] = Leak("system_prompt", "system prompt", runs[-1].start, end)
            else:
                runs.append(Leak("system_prompt", "system prompt", start, end))
        return runs

    def find_in(self, value: Any) -> list[Leak]:
        """Every leak in the strings of a JSON-like value (keys included)."""
        return [leak for text in _strings(value) for leak in self.find(text)]

    def redact(self, text: str) -> str:
        """`text` with each leak replaced by `[redacted: <what>]` (overlapping finds merged)."""
        merged: list[tuple[int, int, str]] = []
        for leak in self.find(text):
            if merged and leak.start < merged[-1][1]:
                start, end, label = merged[-1]
                merged[-1] = (start, max(end, leak.end), label)
            else:
                merged.append((leak.start, leak.end, leak.label))
        out: list[str] = []
        last = 0
        for start, end, label in merged:
            out += [text[last:start], f"[redacted: {label}]"]
            last = end
        return "".join(out) + text[last:]

    def redact_value(self, value: Any) -> Any:
        """A JSON-like value with every string redacted."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {self.redact(str(k)): self.redact_value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact_value(item) for item in value]
        return value


def labels(leaks: Iterable[Leak]) -> list[str]:
    """What was found, each once, in a stable order (for events, audit entries and messages)."""
    return sorted({leak.label for leak in leaks})


def _strings(value: Any) -> Sequence[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    return []
