"""The catalog, pipelines and deals under `/api/v1/sales/`: products (create, patch, retire,
list), pipelines with their stages (create, patch, list, the board), and deals (create, get,
patch, move to a stage, delete, keyset pages with filters). Reads need `runs:read`, changes
`runs:write`; another tenant's objects are 404."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from batonflow.api.cursors import decode_cursor
from batonflow.api.deps import PageSize, State, require
from batonflow.apps.sales import board, catalog, deals, pipelines
from batonflow.apps.sales.company_routes import Cursor, Search, next_cursor
from batonflow.apps.sales.crm_schemas import (
    Board,
    Deal,
    DealPage,
    DealPatch,
    DealSummary,
    Move,
    NewDeal,
    NewPipeline,
    NewProduct,
    Pipeline,
    PipelinePatch,
    Product,
    ProductPatch,
)
from batonflow.auth.scopes import Principal
from batonflow.store.db import Conn

router = APIRouter(tags=["sales"])
Reader = Annotated[Principal, require("runs:read")]
Writer = Annotated[Principal, require("runs:write")]


@router.post("/products", response_model=Product, status_code=status.HTTP_201_CREATED)
async def create_product(state: State, caller: Writer, body: NewProduct) -> Product:
    """Add a product to the catalog; its SKU is unique in the tenant."""
    row = await state.transact(
        lambda conn: catalog.create_product(
            conn, caller.tenant_id, now=state.now(), **body.model_dump()
        )
    )
    return Product.model_validate(row)


@router.get("/products", response_model=list[Product])
async def list_products(
    state: State,
    caller: Reader,
    active: Annotated[bool | None, Query(description="offered (true) or retired (false)")] = None,
    q: Search = None,
) -> list[Product]:
    """The catalog by SKU."""
    rows = await state.query(
        lambda conn: catalog.list_products(conn, caller.tenant_id, active=active, q=q)
    )
    return [Product.model_validate(r) for r in rows]


@router.get("/products/{product_id}", response_model=Product)
async def get_product(state: State, caller: Reader, product_id: str) -> Product:
    row = await state.query(lambda conn: catalog.get_product(conn, caller.tenant_id, product_id))
    return Product.model_validate(row)


@router.patch("/products/{product_id}", response_model=Product)
async def update_product(
    state: State, caller: Writer, product_id: str, body: ProductPatch
) -> Product:
    """Change a product; deal lines keep the price they were given."""
    row = await state.transact(
        lambda conn: catalog.update_product(
            conn, caller.tenant_id, product_id, **body.model_dump(exclude_unset=True)
        )
    )
    return Product.model_validate(row)


@router.post("/products/{product_id}/retire", response_model=Product)
async def retire_product(state: State, caller: Writer, product_id: str) -> Product:
    """Take a product off the catalog: deals keep it, new lines cannot use it."""
    row = await state.transact(
        lambda conn: catalog.retire_product(conn, caller.tenant_id, product_id)
    )
    return Product.model_validate(row)


@router.post("/pipelines", response_model=Pipeline, status_code=status.HTTP_201_CREATED)
async def create_pipeline(state: State, caller: Writer, body: NewPipeline) -> Pipeline:
    """Create a pipeline with its stages in order (the tenant's first is its default)."""
    stages = [s.model_dump(exclude={"id"}) for s in body.stages]
    row = await state.transact(
        lambda conn: pipelines.create_pipeline(
            conn,
            caller.tenant_id,
            name=body.name,
            stages=stages,
            is_default=body.is_default,
            now=state.now(),
        )
    )
    return Pipeline.model_validate(row)


@router.get("/pipelines", response_model=list[Pipeline])
async def list_pipelines(state: State, caller: Reader) -> list[Pipeline]:
    """The tenant's pipelines, the default first (made with the usual stages on first use)."""

    async def work(conn: Conn) -> list[dict[str, Any]]:
        await pipelines.default_pipeline(conn, caller.tenant_id, state.now())
        return await pipelines.list_pipelines(conn, caller.tenant_id)

    return [Pipeline.model_validate(r) for r in await state.transact(work)]


@router.get("/pipelines/{pipeline_id}", response_model=Pipeline)
async def get_pipeline(state: State, caller: Reader, pipeline_id: str) -> Pipeline:
    row = await state.query(
        lambda conn: pipelines.get_pipeline(conn, caller.tenant_id, pipeline_id)
    )
    return Pipeline.model_validate(row)


@router.patch("/pipelines/{pipeline_id}", response_model=Pipeline)
async def update_pipeline(
    state: State, caller: Writer, pipeline_id: str, body: PipelinePatch
) -> Pipeline:
    """Rename it, make it the default, or send its whole ordered list of stages (one with an
    `id` is kept, one without is added, one left out is removed: a 409 while it holds deals)."""
    stages = None if body.stages is None else [s.model_dump() for s in body.stages]
    row = await state.transact(
        lambda conn: pipelines.update_pipeline(
            conn,
            caller.tenant_id,
            pipeline_id,
            name=body.name,
            is_default=body.is_default,
            stages=stages,
        )
    )
    return Pipeline.model_validate(row)


@router.get("/pipelines/{pipeline_id}/board", response_model=Board)
async def pipeline_board(state: State, caller: Reader, pipeline_id: str) -> Board:
    """The deals by stage, with each stage's count and amounts per currency."""
    row = await state.query(lambda conn: board.board(conn, caller.tenant_id, pipeline_id))
    return Board.model_validate(row)


@router.post("/deals", response_model=Deal, status_code=status.HTTP_201_CREATED)
async def create_deal(state: State, caller: Writer, body: NewDeal) -> Deal:
    """Create a deal in the named stage, or its pipeline's first (a 422 lists the fields the
    stage needs). With lines, its amount is what the lines add up to."""
    fields = body.model_dump(exclude={"lines"}, exclude_unset=True)
    lines = [line.model_dump() for line in body.lines]
    row = await state.transact(
        lambda conn: deals.create_deal(
            conn, caller.tenant_id, lines=lines, actor=caller.name, now=state.now(), **fields
        )
    )
    return Deal.model_validate(row)


@router.get("/deals", response_model=DealPage)
async def list_deals(
    state: State,
    caller: Reader,
    limit: PageSize,
    cursor: Cursor = None,
    q: Search = None,
    pipeline_id: str | None = None,
    stage_id: str | None = None,
    owner: Annotated[str | None, Query(max_length=200)] = None,
    company_id: str | None = None,
) -> DealPage:
    """Deals, newest first; `q` searches the title."""
    after = decode_cursor(cursor) if cursor else None
    rows = await state.query(
        lambda conn: deals.list_deals(
            conn,
            caller.tenant_id,
            limit=limit,
            after=after,
            pipeline_id=pipeline_id,
            stage_id=stage_id,
            owner=owner,
            company_id=company_id,
            q=q,
        )
    )
    return DealPage(
        items=[DealSummary.model_validate(r) for r in rows], next_cursor=next_cursor(rows, limit)
    )


@router.get("/deals/{deal_id}", response_model=Deal)
async def get_deal(state: State, caller: Reader, deal_id: str) -> Deal:
    """A deal with its stage, lines, totals and stage history."""
    return Deal.model_validate(
        await state.query(lambda conn: deals.get_deal(conn, caller.tenant_id, deal_id))
    )


@router.patch("/deals/{deal_id}", response_model=Deal)
async def update_deal(state: State, caller: Writer, deal_id: str, body: DealPatch) -> Deal:
    """Change the fields sent; `lines` replaces the lines (and so the amount)."""
    fields = body.model_dump(exclude={"lines"}, exclude_unset=True)
    lines = None if body.lines is None else [line.model_dump() for line in body.lines]
    row = await state.transact(
        lambda conn: deals.update_deal(
            conn, caller.tenant_id, deal_id, now=state.now(), lines=lines, **fields
        )
    )
    return Deal.model_validate(row)


@router.post("/deals/{deal_id}/move", response_model=Deal)
async def move_deal(state: State, caller: Writer, deal_id: str, body: Move) -> Deal:
    """Move a deal to a stage of its pipeline, recorded in its history as the caller's move;
    a 422 lists the fields the stage needs that the deal lacks."""
    row = await state.transact(
        lambda conn: deals.move(
            conn,
            caller.tenant_id,
            deal_id,
            body.stage_id,
            actor_kind="user",
            actor=caller.name,
            reason=body.reason,
            now=state.now(),
        )
    )
    return Deal.model_validate(row)


@router.delete("/deals/{deal_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_deal(state: State, caller: Writer, deal_id: str) -> Response:
    """Delete a deal with its lines and history."""
    await state.transact(lambda conn: deals.delete_deal(conn, caller.tenant_id, deal_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
