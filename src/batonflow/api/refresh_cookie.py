"""The refresh token's cookie, for browsers: HttpOnly (no script reads it), SameSite=Strict (no
other site's page sends it), scoped to the auth routes' path, and Secure when the request came
over https (`BATONFLOW_REFRESH_COOKIE_SECURE`).

Sign-in and registration set it. Refresh and sign-out read the token from the cookie when the
body does not carry one; a refresh that used the cookie answers with the next token only in the
cookie (its body has `refresh_token: null`), so a script in the page can get short-lived access
tokens at most, never a refresh token. A client without cookies (the CLI, a script) sends and
receives the token in the body instead.
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
        NAME,
        path=PATH,
        secure=_secure(settings, request),
        httponly=True,
        samesite="strict",
    )
