"""The portfolio app's API, under `/api/v1/portfolio/`: portfolios, accounts, transactions,
positions and reconciliations (`ledger_routes`), pricing packs and their health
(`pack_routes`), patterns and their execution (`pattern_routes`), data rights and exports
(`rights_routes`). Reads need `runs:read`, changes `runs:write`; another tenant's objects are 404."""

from __future__ import annotations

from fastapi import APIRouter

from batonflow.apps.portfolio import ledger_routes, pack_routes, pattern_routes, rights_routes


def build() -> APIRouter:
    router = APIRouter()
    for part in (ledger_routes, pack_routes, pattern_routes, rights_routes):
        router.include_router(part.router)
    return router
