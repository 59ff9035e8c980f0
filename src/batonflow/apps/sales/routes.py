"""The sales app's API, under `/api/v1/sales/`. Reads need `runs:read`, changes `runs:write`;
another tenant's objects are 404."""

from __future__ import annotations

from types import ModuleType

from fastapi import APIRouter

from batonflow.apps.sales import contract_routes, invoice_routes

PARTS: tuple[ModuleType, ...] = (
    contract_routes,
    invoice_routes,
)  # each part's module has a `router`


def build() -> APIRouter:
    router = APIRouter()
    for part in PARTS:
        router.include_router(part.router)
    return router
