"""The dashboard: the built single-page app (web/ -> `batonflow/web/static/`) served at `/`, and
the API's interactive docs at `/docs`: Swagger UI from the same bundle, so they work offline and
under a policy that loads scripts from this server only.

`mount_dashboard(app)` makes the router's not-found handler serve the bundle, so every API route
keeps its own answers (404 and 405 included): hashed assets are cached for a year, other files
and `index.html` (for any other GET path) are revalidated on every use. Without a built bundle
(`make setup`) the dashboard paths answer a short page that says so.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

import batonflow

STATIC_DIR = Path(batonflow.__file__).parent / "web" / "static"
API_PREFIXES = frozenset({"api", "health", "docs", "redoc", "openapi.json"})
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
MISSING_BUNDLE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Batonflow</title></head>
<body>
<h1>Batonflow</h1>
<p>The dashboard is not built. Run <code>make setup</code> (it builds <code>web/</code> with npm),
then reload this page.</p>
<p>The API is up: see <a href="/docs">/docs</a>.</p>
</body></html>
"""
docs_router = APIRouter(include_in_schema=False)
# Swagger UI sets inline styles on its own elements; scripts still come from this server only.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Batonflow API</title>
<link rel="stylesheet" href="/swagger/swagger-ui.css"></head>
<body><div id="docs"></div>
<script src="/swagger/swagger-ui-bundle.js"></script>
<script src="/docs/start.js"></script>
</body></html>
"""
DOCS_START = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#docs",
  deepLinking: true,
  persistAuthorization: false,
  validatorUrl: null,
});
"""


@docs_router.get("/docs")
async def docs() -> HTMLResponse:
    return HTMLResponse(DOCS_PAGE, headers={"Content-Security-Policy": DOCS_POLICY})


@docs_router.get("/docs/start.js")
async def docs_start() -> Response:
    return Response(DOCS_START, media_type="text/javascript")


class Dashboard:
    """An ASGI app for the paths no API route matched; `fallback` answers the rest."""

    def __init__(self, static_dir: Path, fallback: ASGIApp) -> None:
        self.static_dir = static_dir.resolve()
        self.fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = self.respond(scope) if scope["type"] == "http" else None
        if response is None:
            await self.fallback(scope, receive, send)
            return
        await response(scope, receive, send)

    def respond(self, scope: Scope) -> Response | None:
        if scope["method"] not in ("GET", "HEAD"):
            return None
        relative = str(scope["path"]).lstrip("/")
        if relative.split("/", 1)[0] in API_PREFIXES:
            return None
        index = self.static_dir / "index.html"
        if not index.is_file():
            return HTMLResponse(
                MISSING_BUNDLE, status_code=503, headers={"Cache-Control": REVALIDATE}
            )
        found = self.file(relative)
        if found is not None:
            hashed = relative.startswith("assets/")
            return FileResponse(
                found, headers={"Cache-Control": IMMUTABLE if hashed else REVALIDATE}
            )
        if relative.startswith("assets/"):
            return None  # a missing script is a 404, never the page
        return FileResponse(index, headers={"Cache-Control": REVALIDATE})

    def file(self, relative: str) -> Path | None:
        """The bundle's file at `relative`, or None (missing, a folder, or outside the bundle)."""
        if not relative or "\x00" in relative:
            return None
        candidate = (self.static_dir / relative).resolve()
        if not candidate.is_relative_to(self.static_dir) or not candidate.is_file():
            return None
        return candidate


def mount_dashboard(app: FastAPI, static_dir: Path | None = None) -> None:
    """Serve the dashboard from `static_dir` (default: the package's built bundle) for every
    GET path no route matches. Calling it again serves the new `static_dir` instead."""
    router = app.router
    fallback = router.default
    if isinstance(fallback, Dashboard):
        fallback = fallback.fallback
    router.default = Dashboard(static_dir or STATIC_DIR, fallback)
