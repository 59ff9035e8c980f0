"""The sales app's API, under `/api/v1/sales/`. Reads need `runs:read`, changes `runs:write`;
another tenant's objects are 404."""

from __future__ import annotations

from types import ModuleType

from fastapi import APIRouter

from batonflow.apps.sales import (
    agent_routes,
    company_routes,
    deal_routes,
    lead_routes,
    proposal_routes,
)

PARTS: tuple[ModuleType, ...] = (
    company_routes,
    lead_routes,
    deal_routes,
    proposal_routes,
    agent_routes,
)  # each part's module has a `router`


def build() -> APIRouter:
    router = APIRouter()
    for part in PARTS:
        router.include_router(part.router)
    return router
