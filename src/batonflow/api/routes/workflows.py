"""Workflows: store immutable versions from YAML or JSON, validate without storing, read them."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field, model_validator

from batonflow.api.deps import State, require
from batonflow.api.routes.auth import Strict
from batonflow.auth.scopes import Principal
from batonflow.errors import NotFound, SpecError
from batonflow.store import workflows as workflow_store
from batonflow.store.workflows import VersionRow
from batonflow.workflows.spec import WorkflowSpec
from batonflow.workflows.validation import load_spec, validate_spec

router = APIRouter(prefix="/api/v1/workflows", tags=["workflows"])


class WorkflowSource(Strict):
    """A workflow as YAML or JSON text (`source`), or as a JSON object (`spec`): one of the two."""

    source: str | None = Field(None, description="YAML or JSON text", max_length=1_000_000)
    spec: dict[str, Any] | None = Field(None, description="the workflow as an object")
    name: str = Field("workflow.yaml", description="a file name for error messages", max_length=200)

    @model_validator(mode="after")
    def _one(self) -> WorkflowSource:
        if (self.source is None) == (self.spec is None):
            raise ValueError("give exactly one of `source` (YAML or JSON text) or `spec`")
        return self


class StepOut(BaseModel):
    id: str
    kind: str
    needs: list[str]


class VersionOut(BaseModel):
    id: str = Field(description="the version's own id (runs pin it)")
    workflow_id: str
    version: str
    content_hash: str
    description: str
    created_at: datetime
    steps: list[StepOut]


class VersionDetail(VersionOut):
    inputs_schema: dict[str, Any] = Field(description="JSON Schema of the run inputs")
    spec: dict[str, Any]
    source: str


class Validation(BaseModel):
    valid: bool
    issues: list[str]
    workflow_id: str | None = None
    version: str | None = None
    content_hash: str | None = None


class VersionList(BaseModel):
    items: list[VersionOut]


def _parse(state: State, body: WorkflowSource) -> tuple[WorkflowSpec, str]:
    if body.spec is not None:
        text = json.dumps(body.spec, indent=2)
        return validate_spec(body.spec, body.name, state.registry), text
    assert body.source is not None
    return load_spec(body.source, body.name, state.registry), body.source


def _version(row: VersionRow) -> VersionOut:
    spec = WorkflowSpec.model_validate(row.spec)
    return VersionOut(
        id=row.id,
        workflow_id=row.workflow_id,
        version=row.version,
        content_hash=row.content_hash,
        description=row.description,
        created_at=row.created_at,
        steps=[StepOut(id=s.id, kind=s.kind, needs=list(s.needs)) for s in spec.steps],
    )


def _detail(row: VersionRow) -> VersionDetail:
    spec = WorkflowSpec.model_validate(row.spec)
    return VersionDetail(
        **_version(row).model_dump(),
        inputs_schema=spec.inputs_schema(),
        spec=row.spec,
        source=row.source,
    )


@router.post(
    "",
    response_model=VersionDetail,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": VersionDetail, "description": "identical content already stored"}},
)
async def create_version(
    state: State,
    body: WorkflowSource,
    response: Response,
    caller: Annotated[Principal, require("workflows:write")],
) -> VersionDetail:
    """Store a workflow version. Storing identical content again returns the stored version
    (200); other content under a stored id and version is a conflict (409)."""
    spec, text = _parse(state, body)

    row, created = await state.transact(
        lambda conn: workflow_store.save_version(
            conn, caller.tenant_id, spec, text, state.now(), origin=body.name
        )
    )
    state.specs.put(row.id, spec)
    if not created:
        response.status_code = status.HTTP_200_OK
    return _detail(row)


@router.post("/validate", response_model=Validation)
async def validate(
    state: State, body: WorkflowSource, caller: Annotated[Principal, require("workflows:read")]
) -> Validation:
    """Check a workflow without storing it: every problem at once, each with its place."""
    try:
        spec, _ = _parse(state, body)
        await state.query(
            lambda conn: workflow_store.check_subworkflows(conn, caller.tenant_id, spec, body.name)
        )
    except SpecError as exc:
        return Validation(valid=False, issues=exc.issues)
    return Validation(
        valid=True,
        issues=[],
        workflow_id=spec.id,
        version=spec.version,
        content_hash=spec.content_hash,
    )


@router.get("", response_model=VersionList)
async def list_versions(
    state: State,
    caller: Annotated[Principal, require("workflows:read")],
    workflow_id: Annotated[str | None, Query(max_length=128)] = None,
    latest: Annotated[bool, Query(description="only the newest version of each workflow")] = False,
) -> VersionList:
    """Stored versions, by workflow id, oldest version first; with `latest`, one per workflow."""
    rows = await state.query(
        lambda conn: workflow_store.list_versions(conn, caller.tenant_id, workflow_id)
    )
    if latest:
        rows = list({row.workflow_id: row for row in rows}.values())
    return VersionList(items=[_version(r) for r in rows])


@router.get("/{workflow_id}/versions", response_model=VersionList)
async def list_workflow_versions(
    state: State, workflow_id: str, caller: Annotated[Principal, require("workflows:read")]
) -> VersionList:
    """Every version of one workflow, oldest first; an unknown workflow is not found."""
    rows = await state.query(
        lambda conn: workflow_store.list_versions(conn, caller.tenant_id, workflow_id)
    )
    if not rows:
        raise NotFound(f"no workflow '{workflow_id}'")
    return VersionList(items=[_version(r) for r in rows])


@router.get("/{workflow_id}", response_model=VersionDetail)
async def get_newest(
    state: State, workflow_id: str, caller: Annotated[Principal, require("workflows:read")]
) -> VersionDetail:
    """The newest version of a workflow, with its spec, source and input schema."""
    row = await state.query(
        lambda conn: workflow_store.get_version(conn, caller.tenant_id, workflow_id)
    )
    return _detail(row)


@router.get("/{workflow_id}/versions/{version}", response_model=VersionDetail)
async def get_version(
    state: State,
    workflow_id: str,
    version: str,
    caller: Annotated[Principal, require("workflows:read")],
) -> VersionDetail:
    """One version of a workflow."""
    row = await state.query(
        lambda conn: workflow_store.get_version(conn, caller.tenant_id, workflow_id, version)
    )
    return _detail(row)
