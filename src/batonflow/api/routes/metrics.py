"""GET /metrics: the process's Prometheus metrics, for the operator's scraper only.

The metrics span every tenant (spend by tenant, queue depth), so no tenant credential reads
them, not even an admin's: the scraper sends `Authorization: Bearer <BATONFLOW_METRICS_TOKEN>`.
Without a configured token the endpoint does not exist (404).
"""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response

from batonflow.api.deps import ApiState
from batonflow.errors import NotFound, Unauthenticated
from batonflow.telemetry.metrics import CONTENT_TYPE

router = APIRouter(tags=["operations"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    state: ApiState = request.app.state.batonflow
    token = state.settings.metrics_token
    if token is None:
        raise NotFound("metrics are off on this server (set BATONFLOW_METRICS_TOKEN)")
    sent = request.headers.get("authorization", "")
    scheme, _, credential = sent.partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(credential.encode(), expected):
        raise Unauthenticated("/metrics needs 'Authorization: Bearer <the metrics token>'")
    return Response(await state.telemetry.metrics.render(), media_type=CONTENT_TYPE)
