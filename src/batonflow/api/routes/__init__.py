"""One router per resource (the runs resource has two: reading runs, and acting on them), all
mounted by `create_app`."""

from __future__ import annotations

from batonflow.api.routes import (
    admin,
    agents,
    audit,
    auth,
    events,
    health,
    hooks,
    knowledge,
    prompts,
    reviews,
    run_actions,
    runs,
    schedules,
    usage,
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
    reviews.router,
    prompts.router,
    knowledge.router,
    schedules.router,
    hooks.router,
    agents.router,
    agents.apps_router,
    usage.router,
    events.router,
    health.metrics_router,
)
