"""The API's interactive docs at `/docs`: Swagger UI from the dashboard's bundle (copied there
from the `swagger-ui-dist` package when the dashboard is built), so they work offline and under
a policy that loads scripts from this server only."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import HTMLResponse, Response

router = APIRouter(include_in_schema=False)

# Swagger UI sets inline styles on its own elements; scripts still come from this server only.
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Batonflow API</title>
<link rel="stylesheet" href="/swagger/swagger-ui.css"></head>
<body><div id="docs"></div>
<script src="/swagger/swagger-ui-bundle.js"></script>
<script src="/docs/start.js"></script>
</body></html>
"""
START = """window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#docs",
  deepLinking: true,
  persistAuthorization: false,
  validatorUrl: null,
});
"""


@router.get("/docs")
async def docs() -> HTMLResponse:
    return HTMLResponse(PAGE, headers={"Content-Security-Policy": POLICY})


@router.get("/docs/start.js")
async def start() -> Response:
    return Response(START, media_type="text/javascript")
