"""Domain errors to HTTP, in one place, and the one error envelope every response uses:

    {"error": {"code": "not_found", "message": "no run '...'", "details": {}}}

Codes are the `code` of the error classes in `batonflow.errors` (documented in docs/errors.md),
plus `request_invalid` for a body or query the API could not parse and `http_error` for
routing-level answers (unknown path, wrong method).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from batonflow import errors
from batonflow.telemetry.logs import get_logger

log = get_logger("batonflow.api")

STATUS: dict[type[errors.BatonflowError], int] = {
    errors.SpecError: 422,
    errors.InvalidInput: 422,
    errors.NotFound: 404,
    errors.Unauthenticated: 401,
    errors.PermissionDenied: 403,
    errors.RateLimited: 429,
    errors.QuotaExceeded: 429,
    errors.PayloadTooLarge: 413,
    errors.NotReady: 503,
    errors.Conflict: 409,
    errors.ConfigError: 500,
    errors.ModelError: 502,  # a model the request needed (embeddings, rerank) failed
    errors.OutputLeak: 422,  # text a request would send out carries a secret or a credential
    errors.UserError: 400,
    errors.BatonflowError: 500,
}


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = {}


class ErrorEnvelope(BaseModel):
    error: ErrorBody


def status_for(error: errors.BatonflowError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def envelope(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(error: errors.BatonflowError) -> JSONResponse:
    headers = {}
    if isinstance(error, errors.RateLimited | errors.NotReady):
        headers["Retry-After"] = str(max(1, round(error.retry_after + 0.499)))
    if isinstance(error, errors.Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(
        envelope(error.code, error.message, error.details),
        status_code=status_for(error),
        headers=headers,
    )


async def _domain(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.BatonflowError)
    return logged_response(exc)


def logged_response(exc: errors.BatonflowError) -> JSONResponse:
    """The error's answer, logged as every refused or failed request is (a route that answers
    an error itself, rather than raising it, uses this)."""
    status = status_for(exc)
    if status >= 500:
        log.error("request.error", code=exc.code, message=exc.message, status=status)
    elif status in (401, 403, 429):
        log.info("request.refused", code=exc.code, message=exc.message, status=status)
    return error_response(exc)


async def _validation(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    issues = []
    for item in exc.errors():
        where = ".".join(str(part) for part in item.get("loc", ()))
        issues.append(f"{where}: {item.get('msg', 'invalid')}")
    return JSONResponse(
        envelope(
            "request_invalid",
            "the request does not fit this endpoint: " + "; ".join(issues),
            {"issues": issues},
        ),
        status_code=422,
    )


async def _http(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {401: "unauthenticated", 403: "forbidden", 404: "not_found"}.get(
        exc.status_code, "http_error"
    )
    return JSONResponse(
        envelope(code, str(exc.detail)),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.BatonflowError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
