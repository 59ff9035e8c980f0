"""The sales app's API, under `/api/v1/sales/`. Reads need `runs:read`, changes `runs:write`;
another tenant's objects are 404."""

from __future__ import annotations

from types import ModuleType

from fastapi import APIRouter

from batonflow.apps.sales import (
    agent_routes,
    company_routes,
    contract_routes,
    deal_routes,
    email_routes,
    invoice_routes,
    lead_routes,
    negotiation_routes,
    pipeline_routes,
    proposal_routes,
    scoring_routes,
    timeline_routes,
)

# each part's module has a `router`
PARTS: tuple[ModuleType, ...] = (
    company_routes,
    lead_routes,
    deal_routes,
    proposal_routes,
    agent_routes,
    negotiation_routes,
    scoring_routes,
    email_routes,
    invoice_routes,
    contract_routes,
    pipeline_routes,
    timeline_routes,
)


def build() -> APIRouter:
    router = APIRouter()
    for part in PARTS:
        router.include_router(part.router)
    return router
