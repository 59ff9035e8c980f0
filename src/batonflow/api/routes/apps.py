"""Apps: which apps this installation has enabled, where their API lives and which dashboard
pages they add (the dashboard builds its navigation from this)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from batonflow.api.deps import Caller, State

router = APIRouter(prefix="/api/v1/apps", tags=["apps"])


class PageOut(BaseModel):
    key: str
    title: str
    path: str


class AppOut(BaseModel):
    name: str
    title: str
    description: str
    api: str | None
    pages: list[PageOut]
    workflows: list[str]


class AppList(BaseModel):
    items: list[AppOut]


@router.get("", response_model=AppList)
async def list_apps(state: State, caller: Caller) -> AppList:
    """The enabled apps, in the order `BATONFLOW_APPS` names them (by name when unset)."""
    return AppList(
        items=[
            AppOut(
                name=app.name,
                title=app.title,
                description=app.description,
                api=f"/api/v1/{app.name}" if app.router is not None else None,
                pages=[
                    PageOut(key=p.key, title=p.title, path=f"/apps/{app.name}/{p.key}")
                    for p in app.pages
                ],
                workflows=[path.name for path in app.workflow_files()],
            )
            for app in state.apps
        ]
    )
