"""The refresh token's cookie, for browsers: HttpOnly, SameSite=Strict, scoped to the auth
routes' path, and Secure over https (`BATONFLOW_REFRESH_COOKIE_SECURE`). A refresh that used the
cookie answers with the next token only in the cookie, so a script in the page can get
short-lived access tokens at most, never a refresh token; clients without cookies use the body.
"""

from __future__ import annotations

from fastapi import Request, Response

from batonflow.settings import Settings

NAME = "batonflow_refresh"
PATH = "/api/v1/auth"


def presented(request: Request) -> str | None:
    """The refresh token the browser sent in the cookie, if any."""
    return request.cookies.get(NAME) or None


def _secure(settings: Settings, request: Request) -> bool:
    if settings.refresh_cookie_secure == "auto":
        return request.url.scheme == "https"
    return settings.refresh_cookie_secure == "always"


def keep(response: Response, settings: Settings, request: Request, token: str) -> None:
    """Set the cookie to `token` for the refresh token's lifetime."""
    response.set_cookie(
        NAME,
        token,
        max_age=settings.refresh_token_seconds,
        path=PATH,
        secure=_secure(settings, request),
        httponly=True,
        samesite="strict",
    )


def forget(response: Response, settings: Settings, request: Request) -> None:
    """Tell the browser to drop the cookie."""
    response.delete_cookie(
        NAME, path=PATH, secure=_secure(settings, request), httponly=True, samesite="strict"
    )
