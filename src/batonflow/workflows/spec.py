"""Workflow specs: a graph declared as data. `WorkflowSpec` and its step kinds are frozen Pydantic
models; a spec knows its steps by id, each step's upstream steps, its content hash and the JSON
Schema of its inputs. Parsing a document into a spec and the checks Pydantic cannot make are
`workflows/validation.py`.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

STEP_ID = r"^[a-z_][a-z0-9_-]{0,63}$"  # like workflow ids, `-` is allowed


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class InputField(_Model):
    type: Literal["string", "integer", "number", "boolean", "array", "object"] = "string"
    description: str = ""
    required: bool | None = None
    default: Any = None
    enum: list[Any] | None = None
    items: dict[str, Any] | None = None
    minimum: float | None = None
    maximum: float | None = None

    @property
    def is_required(self) -> bool:
        if self.required is not None:
            return self.required
        return self.default is None

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.type}
        for key in ("description", "enum", "items", "minimum", "maximum"):
            value = getattr(self, key)
            if value not in (None, ""):
                schema[key] = value
        if self.default is not None:
            schema["default"] = self.default
        return schema


class Backoff(_Model):
    initial: float = Field(1.0, ge=0, le=3600)
    multiplier: float = Field(2.0, ge=1, le=10)
    max: float = Field(60.0, ge=0, le=86400)
    jitter: float = Field(0.2, ge=0, le=1)


class RetryPolicy(_Model):
    max_attempts: int = Field(1, ge=1, le=100)
    backoff: Backoff = Backoff()
    retry_on: list[str] | None = Field(
        None, description="error codes that retry; default: every error marked retryable"
    )


class ToolGrant(_Model):
    """A tool a step (or the agent or model acting in it) may call. Written as the tool's name,
    or as a mapping with limits:

        tools:
          - kb.search
          - tool: email.send
            allow: {to: "{{ inputs.contacts }}"}   # argument -> allowed values (templated)
          - tool: python
            hosts: [api.example.com]              # network the tool may reach
    """

    tool: str
    allow: dict[str, Any] = Field(
        {}, description="a bounded argument -> the values it may take (a list or a template)"
    )
    hosts: list[str] | None = Field(None, description="hosts the tool may reach (default: its own)")


def _grants(value: Any) -> Any:
    if isinstance(value, list):
        return [{"tool": item} if isinstance(item, str) else item for item in value]
    return value


class _StepBase(_Model):
    id: str = Field(pattern=STEP_ID)
    description: str = ""
    needs: list[str] = []
    args: dict[str, Any] = {}
    when: str | None = None
    retry: RetryPolicy = RetryPolicy()
    timeout: float | None = Field(None, gt=0, le=86400)


class _Grants(_Model):
    tools: list[ToolGrant] = Field([], description="the tools this step may call (see ToolGrant)")

    @field_validator("tools", mode="before")
    @classmethod
    def _tool_names(cls, value: Any) -> Any:
        return _grants(value)


class AgentStep(_StepBase, _Grants):
    kind: Literal["agent"]
    capability: str


class PromptRef(_Model):
    """A prompt from the registry; without `version`, the newest when the attempt runs."""

    key: str
    version: int | None = Field(None, ge=1)


class LlmStep(_StepBase, _Grants):
    """One model call: an inline prompt template, or a registry prompt whose variables are the
    rendered `args`. With `output_schema` the result is the validated JSON value; without it,
    `{text: ...}`."""

    kind: Literal["llm"]
    prompt: Annotated[
        Annotated[str, Tag("text")] | Annotated[PromptRef, Tag("ref")],
        Discriminator(lambda v: "ref" if isinstance(v, dict | PromptRef) else "text"),
    ]
    system: str | None = None
    model: str | None = Field(None, description="a route name or provider:model")
    output_schema: dict[str, Any] | None = None
    max_tokens: int = Field(512, ge=1, le=200_000)
    temperature: float | None = Field(None, ge=0, le=2)
    context: str | None = Field(
        None,
        description="an expression giving retrieved passages (a retrieve step's result): they "
        "are given as untrusted data, and the answer must cite them (see retrieval/grounding.py)",
    )
    tool_rounds: int = Field(
        8, ge=1, le=50, description="with `tools`: the most model turns that may call tools"
    )


class ToolStep(_StepBase, _Grants):
    kind: Literal["tool"]
    tool: str


class RetrieveStep(_StepBase):
    """Search knowledge bases; the result is `{query, passages: [...]}`, each passage with its
    text, score, document, heading path and citation id."""

    kind: Literal["retrieve"]
    query: str = Field(description="the query (templated)")
    knowledge_base: str | list[str] = Field(description="names or ids (templated)")
    k: int = Field(5, ge=1, le=50)
    mode: Literal["keyword", "vector", "hybrid"] = "hybrid"
    rerank: Literal["none", "local", "hosted"] = "none"


class ReviewStep(_StepBase):
    kind: Literal["review"]
    subject: Any = Field(description="what the person reviews (templated)")
    instructions: str = ""
    reviewers: list[str] = ["reviewer", "admin"]
    allow_edit: bool = True
    on_reject: Literal["fail", "continue"] = "fail"


class InputStep(_StepBase):
    kind: Literal["input"]
    prompt: str = ""
    input_schema: dict[str, Any] = Field(alias="schema")
    reviewers: list[str] = ["operator", "reviewer", "admin"]


class WorkflowStep(_StepBase):
    kind: Literal["workflow"]
    workflow: str
    version: str

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value


class MapItemAgent(_Grants):
    kind: Literal["agent"]
    capability: str
    args: dict[str, Any] = {}
    retry: RetryPolicy = RetryPolicy()
    timeout: float | None = Field(None, gt=0, le=86400)


class MapItemTool(_Grants):
    kind: Literal["tool"]
    tool: str
    args: dict[str, Any] = {}
    retry: RetryPolicy = RetryPolicy()
    timeout: float | None = Field(None, gt=0, le=86400)


MapItem = Annotated[MapItemAgent | MapItemTool, Field(discriminator="kind")]


class MapStep(_StepBase):
    kind: Literal["map"]
    over: str = Field(description="an expression that yields the list to map over")
    concurrency: int = Field(8, ge=1, le=1000)
    step: MapItem


Step = Annotated[
    AgentStep | LlmStep | ToolStep | RetrieveStep | ReviewStep | InputStep | MapStep | WorkflowStep,
    Field(discriminator="kind"),
]


class RunBudget(_Model):
    """Caps on one run's model use; a call that would pass one fails its step first."""

    tokens: int | None = Field(None, ge=1)
    cost_usd: Decimal | None = Field(None, gt=0)


class WorkflowSpec(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,127}$")
    version: str
    description: str = ""
    budget: RunBudget | None = None
    inputs: dict[str, InputField] = {}
    steps: list[Step] = Field(min_length=1)
    outputs: dict[str, Any] = {}

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    @cached_property
    def by_id(self) -> dict[str, Step]:
        return {step.id: step for step in self.steps}

    @cached_property
    def upstream(self) -> dict[str, frozenset[str]]:
        """Every step's transitive `needs`."""
        closure: dict[str, frozenset[str]] = {}

        def visit(step_id: str) -> frozenset[str]:
            if step_id not in closure:
                direct = self.by_id[step_id].needs
                found: set[str] = set(direct)
                for need in direct:
                    found |= visit(need)
                closure[step_id] = frozenset(found)
            return closure[step_id]

        for step in self.steps:
            visit(step.id)
        return closure

    @cached_property
    def content_hash(self) -> str:
        return content_hash(self)

    def inputs_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {name: field.json_schema() for name, field in self.inputs.items()},
            "required": sorted(name for name, field in self.inputs.items() if field.is_required),
            "additionalProperties": False,
        }


# Fields added after specs were first stored: left out of the hash at their defaults, so a
# stored version keeps its hash.
_LATER_DEFAULTS = {"tools": [], "tool_rounds": 8}


def _without_later_defaults(step: dict[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in step.items() if k not in _LATER_DEFAULTS or v != _LATER_DEFAULTS[k]}
    if isinstance(kept.get("step"), dict):
        kept["step"] = _without_later_defaults(kept["step"])
    return kept


def content_hash(spec: WorkflowSpec) -> str:
    body = spec.model_dump(mode="json", by_alias=True)
    body["steps"] = [_without_later_defaults(step) for step in body["steps"]]
    canonical = json.dumps(body, sort_keys=True)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()
