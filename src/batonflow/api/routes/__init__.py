"""The API's routers, a module per area (some hold more than one router), mounted by
`create_app` in this order."""

from __future__ import annotations

from batonflow.api.routes import (
    admin,
    agents,
    audit,
    auth,
    events,
    health,
    knowledge,
    llm,
    run_actions,
    runs,
    triggers,
    workflows,
)

ROUTERS = (
    health.router,
    auth.router,
    admin.router,
    audit.router,
    workflows.router,
    runs.router,
    run_actions.router,
    runs.dead_letters_router,
    run_actions.reviews_router,
    llm.router,
    knowledge.router,
    triggers.router,
    triggers.hooks_router,
    agents.router,
    agents.apps_router,
    llm.usage_router,
    events.router,
    health.metrics_router,
)
