"""Every error Batonflow raises on purpose.

    BatonflowError                    code
    ├── UserError                     the caller must change something
    │   ├── SpecError                 spec_invalid: a workflow file is wrong (carries every issue)
    │   ├── InvalidInput              input_invalid: run inputs, review edits or input data
    │   ├── NotFound                  not_found: no such object for this tenant
    │   ├── Unauthenticated           unauthenticated: no valid credentials came with the request
    │   ├── PermissionDenied          forbidden: the actor's roles do not allow this
    │   ├── RateLimited               rate_limited: too many requests; retry after `retry_after`
    │   ├── QuotaExceeded             quota_exceeded: a tenant limit (such as active runs) is reached
    │   ├── PayloadTooLarge           payload_too_large: a request body over the size limit
    │   ├── NotReady                  not_ready: what the request needs is being prepared (a
    │   │                             pricing pack warming); retry after `retry_after`
    │   ├── Conflict                  conflict: the object is not in a state that allows this
    │   │   └── IllegalTransition     illegal_transition: a run cannot move between two states
    │   └── ConfigError               config_invalid: settings that cannot work
    └── RunError                      a step attempt failed while a run executed
        ├── StepFailed                step_failed: an agent or tool reported a failure
        ├── InvalidArgs               invalid_args: rendered args do not fit the capability
        ├── TemplateError             template_error: a template could not be rendered
        ├── StepTimeout               step_timeout: the attempt passed its timeout
        ├── CircuitOpen               circuit_open: the capability's breaker is open
        ├── ReviewRejected            review_rejected: a person rejected the step
        ├── BudgetExceeded            budget_exceeded: a model call would pass a token or cost cap
        ├── ToolRefused               tool_refused: the platform refused a tool call (not granted,
        │                             arguments off the schema, effects outside the grant)
        ├── OutboundRefused           outbound_refused: an HTTP request to a host or address not
        │                             allowed, a redirect elsewhere, or an answer over the size cap
        ├── SandboxStopped            sandbox_stopped: sandboxed code passed a limit or did what
        │                             its grant does not allow, and was stopped
        ├── OutputLeak                output_leak: text about to leave (a step's output, an email)
        │                             carries a secret, a credential or its system prompt
        └── ModelError                model_error: a model call failed (classified below)
            ├── ModelRateLimited      model_rate_limited: 429, perhaps with Retry-After
            ├── ModelUnavailable      model_unavailable: 5xx, refused connection, malformed reply
            ├── ModelTimeout          model_timeout: no answer within the call timeout
            ├── ModelRejected         model_rejected: a 4xx other than 429 (not retried)
            ├── OutputInvalid         output_invalid: output kept failing its schema
            └── RouteExhausted        route_exhausted: every model of a route failed

Domain errors carry no HTTP status codes; the API maps codes to statuses in one place.
Each code has a section in docs/errors.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

DOCS = "docs/errors.md"


class BatonflowError(Exception):
    code: ClassVar[str] = "error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    @property
    def docs(self) -> str:
        return f"{DOCS}#{self.code}"


class UserError(BatonflowError):
    code = "user_error"


class SpecError(UserError):
    """A workflow spec failed validation. `issues` holds one line per problem."""

    code = "spec_invalid"

    def __init__(self, source: str, issues: Sequence[str]) -> None:
        self.source = source
        self.issues = list(issues)
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        super().__init__(f"{source}: invalid workflow\n{lines}", details={"issues": self.issues})


class InvalidInput(UserError):
    code = "input_invalid"


class NotFound(UserError):
    code = "not_found"


class Unauthenticated(UserError):
    code = "unauthenticated"


class PermissionDenied(UserError):
    code = "forbidden"


class RateLimited(UserError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message, details={"retry_after": retry_after})
        self.retry_after = retry_after


class QuotaExceeded(UserError):
    code = "quota_exceeded"


class NotReady(UserError):
    """What the request needs is being prepared and will be ready at `estimated_ready` (an ISO
    time, when known): ask again after `retry_after` seconds."""

    code = "not_ready"

    def __init__(
        self,
        message: str,
        *,
        retry_after: float,
        estimated_ready: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            message,
            details={
                **(details or {}),
                "retry_after": retry_after,
                "estimated_ready": estimated_ready,
            },
        )
        self.retry_after = retry_after
        self.estimated_ready = estimated_ready


class PayloadTooLarge(UserError):
    code = "payload_too_large"


class Conflict(UserError):
    code = "conflict"


class IllegalTransition(Conflict):
    code = "illegal_transition"


class ConfigError(UserError):
    code = "config_invalid"


class RunError(BatonflowError):
    """A failure inside a step attempt. `retryable` is the default the retry policy uses."""

    code = "run_error"
    retryable: ClassVar[bool] = True


class StepFailed(RunError):
    code = "step_failed"

    def __init__(
        self, message: str, *, retryable: bool = True, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message, details=details)
        self.instance_retryable = retryable


class InvalidArgs(RunError):
    code = "invalid_args"
    retryable = False


class FanOutExceeded(RunError):
    """A `map` or a tree of sub-workflows past the deployment's caps (`BATONFLOW_MAX_*`)."""

    code = "fanout_exceeded"
    retryable = False


class TemplateError(RunError):
    code = "template_error"
    retryable = False


class StepTimeout(RunError):
    code = "step_timeout"


class CircuitOpen(RunError):
    code = "circuit_open"


class ReviewRejected(RunError):
    code = "review_rejected"
    retryable = False


class BudgetExceeded(RunError):
    code = "budget_exceeded"
    retryable = False


class ToolRefused(RunError):
    """`details`: the tool, why (`not_granted`, `invalid_args`, `outside_policy`) and the reason."""

    code = "tool_refused"
    retryable = False


class OutboundRefused(RunError):
    code = "outbound_refused"
    retryable = False


class SandboxStopped(RunError):
    """`details`: `reason` (wall_clock, cpu, memory, refused) and what the program printed."""

    code = "sandbox_stopped"
    retryable = False


class OutputLeak(RunError):
    """`details`: `channel` (where the text was going) and `found` (what it carries, never the
    value). Retryable: a model's next attempt may write it without the leak."""

    code = "output_leak"


class ModelError(RunError):
    """A model call failed. `model` is `provider:model`; `status` the HTTP status if any."""

    code = "model_error"

    def __init__(
        self,
        message: str,
        *,
        model: str = "",
        status: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details={"model": model, "status": status, **(details or {})})
        self.model = model
        self.status = status
        self.retries = 0  # set by the gateway: how many times the call was retried


class ModelRateLimited(ModelError):
    code = "model_rate_limited"

    def __init__(
        self,
        message: str,
        *,
        model: str = "",
        status: int | None = 429,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, model=model, status=status, details={"retry_after": retry_after})
        self.retry_after = retry_after


class ModelUnavailable(ModelError):
    code = "model_unavailable"


class ModelTimeout(ModelError):
    code = "model_timeout"


class ModelRejected(ModelError):
    code = "model_rejected"
    retryable = False


class OutputInvalid(ModelError):
    """The model's output failed its schema on every try; `details.raw` keeps the last text."""

    code = "output_invalid"


class RouteExhausted(ModelError):
    """Every model of a route failed; `details.hops` says what happened at each."""

    code = "route_exhausted"


def is_retryable(error: BaseException) -> bool:
    if isinstance(error, StepFailed):
        return error.instance_retryable
    if isinstance(error, RunError):
        return error.retryable
    # An unexpected exception in agent code is treated like a transient failure.
    return not isinstance(error, UserError)


def error_code(error: BaseException) -> str:
    if isinstance(error, BatonflowError):
        return error.code
    return "exception"
