"""Events: a run's events and a tenant's as Server-Sent Events, a run's history as JSON pages,
and the JSON Schema of every event type (docs/api.md, Events). A frame is `id: <cursor>`,
`event: <type>`, `data: <event as JSON>`; `llm.delta` frames carry no id; a `: keepalive`
comment comes after `KEEPALIVE_SECONDS` of silence. A run private to another user is not there
for the caller, admins aside: its routes answer 404 and the tenant's stream leaves its events out.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from contextlib import aclosing
from datetime import datetime
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Query
from pydantic import BaseModel
from pydantic_core import PydanticSerializationError
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from batonflow.api.deps import PageSize, State, require
from batonflow.api.json_guard import scrub
from batonflow.auth.scopes import Principal
from batonflow.errors import InvalidInput
from batonflow.events import stream, tails
from batonflow.events.contracts import StoredEvent, schemas
from batonflow.runs.run import run_viewer
from batonflow.store.db import Conn
from batonflow.store.runs import get_run

router = APIRouter(prefix="/api/v1", tags=["events"])
KEEPALIVE_SECONDS = 15.0
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
FRAME_EXAMPLE = (
    "id: 3\nevent: step.started\ndata: "
    '{"id": 41, "type": "step.started", "version": 1, "run_id": "0199...", "seq": 3, '
    '"step_key": "qualify", "data": {"attempt": 1, "dispatch": 1, "worker": "host:12", '
    '"idempotency_key": "0199...:qualify:1"}, "created_at": "2025-01-01T12:00:00.000000+00:00"}'
    "\n\n: keepalive\n\n"
)


def _stream_doc(what: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": what,
            "content": {
                "text/event-stream": {
                    "schema": {"type": "string", "description": "Server-Sent Event frames"},
                    "example": FRAME_EXAMPLE,
                }
            },
        }
    }


class EventOut(BaseModel):
    """A stored event; `data` follows the contract of `type@version` (`/api/v1/events/schemas`)."""

    id: int
    type: str
    version: int
    run_id: str
    seq: int
    step_key: str | None
    data: dict[str, Any]
    created_at: datetime


class EventPage(BaseModel):
    items: list[EventOut]
    next_after: int | None  # the `after` of the next page; null on the last one


def _out(event: StoredEvent) -> EventOut:
    assert event.id is not None
    return EventOut(
        id=event.id,
        type=event.type,
        version=event.version,
        run_id=event.run_id,
        seq=event.seq,
        step_key=event.step_key,
        data=event.data,
        created_at=event.created_at,
    )


class FrameData(BaseModel):
    """The `data:` of a frame: a stored event as `EventOut`, or a live one without id or seq."""

    id: int | None
    type: str
    version: int
    run_id: str
    seq: int | None
    step_key: str | None
    data: dict[str, Any]
    created_at: datetime


def frame(item: stream.StreamItem) -> bytes:
    """One item in the SSE wire format."""
    if isinstance(item, stream.Keepalive):
        return b": keepalive\n\n"
    event = item.event
    live = item.cursor is None
    data = FrameData(
        id=None if live else event.id,
        type=event.type,
        version=event.version,
        run_id=event.run_id,
        seq=None if live else event.seq,
        step_key=event.step_key,
        data=event.data,
        created_at=event.created_at,
    )
    try:
        body = data.model_dump_json()
    except PydanticSerializationError:  # a lone surrogate stored before the edge refused them
        body = data.model_copy(update={"data": scrub(event.data)}).model_dump_json()
    head = "" if live else f"id: {item.cursor}\n"
    return f"{head}event: {event.type}\ndata: {body}\n\n".encode()


class EventStream(StreamingResponse):
    """`text/event-stream` from a tail. It stops when the client goes away (whatever the ASGI
    server's spec version) and always closes the tail, which unsubscribes it from the bus."""

    media_type = "text/event-stream"

    def __init__(self, items: AsyncGenerator[stream.StreamItem, None]) -> None:
        self.items = items
        self.frames = self._frames()
        super().__init__(self.frames, headers=SSE_HEADERS)

    async def _frames(self) -> AsyncGenerator[bytes, None]:
        async with aclosing(self.items) as items:
            async for item in items:
                yield frame(item)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def write() -> None:
                    with contextlib.suppress(OSError):  # the client went away mid-write
                        await self.stream_response(send)
                    group.cancel_scope.cancel()

                group.start_soon(write)
                await self.listen_for_disconnect(receive)
                group.cancel_scope.cancel()
        finally:
            await self.frames.aclose()
            await self.items.aclose()


def _resume_point(last_event_id: str | None, after: int | None) -> int | None:
    """`Last-Event-ID` (what a reconnecting EventSource sends) wins over `?after=`."""
    if last_event_id is None or not last_event_id.strip():
        return after
    text = last_event_id.strip()
    if not text.isdigit() or len(text) > 18:
        raise InvalidInput(
            f"Last-Event-ID must be a cursor this stream sent (a whole number); got {text!r}"
        )
    return int(text)


LastEventId = Annotated[
    str | None,
    Header(
        alias="Last-Event-ID",
        max_length=40,
        description="resume after this cursor (an EventSource sends it when it reconnects)",
    ),
]
After = Annotated[int | None, Query(ge=0, le=2**62, description="resume after this cursor")]


@router.get(
    "/runs/{run_id}/events",
    response_class=EventStream,
    status_code=200,  # EventStream takes no status_code, which OpenAPI generation reads
    responses=_stream_doc("the run's events, then its live ones until it ends"),
    summary="Follow a run's events (Server-Sent Events)",
)
async def run_event_stream(
    run_id: str,
    state: State,
    caller: Annotated[Principal, require("events:read")],
    last_event_id: LastEventId = None,
    after: After = None,
    follow: Annotated[
        bool, Query(description="false: send the stored events and end, without waiting")
    ] = True,
) -> EventStream:
    """The run's stored events in `seq` order, each exactly once, then the ones stored later
    (by this process or any worker) and its live `llm.delta` frames. Each frame's `id` is the
    event's `seq`; resume with `Last-Event-ID` (or `?after=<seq>`). The stream ends once the run
    has ended (after `run.succeeded`, `run.failed`, `run.dead` or `run.cancelled`)."""
    resume = _resume_point(last_event_id, after) or 0
    viewer = run_viewer(caller.id, caller.roles)
    await state.query(lambda conn: get_run(conn, caller.tenant_id, run_id, viewer=viewer))
    return EventStream(
        tails.run_events(
            state.db,
            state.bus,
            caller.tenant_id,
            run_id,
            resume,
            follow=follow,
            poll_seconds=state.settings.poll_seconds,
            heartbeat_seconds=KEEPALIVE_SECONDS,
            feeds=state.feeds,
        )
    )


@router.get(
    "/runs/{run_id}/events/history",
    response_model=EventPage,
    summary="A page of a run's stored events",
)
async def run_event_history(
    run_id: str,
    state: State,
    caller: Annotated[Principal, require("events:read")],
    limit: PageSize,
    after: Annotated[int, Query(ge=0, le=2**31 - 1, description="the seq to start after")] = 0,
) -> EventPage:
    """The run's stored events after `after`, in `seq` order, at most `limit` of them."""

    viewer = run_viewer(caller.id, caller.roles)

    async def work(conn: Conn) -> list[StoredEvent]:
        await get_run(conn, caller.tenant_id, run_id, viewer=viewer)
        return await tails.read_run_events(
            conn, caller.tenant_id, run_id, after_seq=after, limit=limit
        )

    page = await state.query(work)
    next_after = page[-1].seq if len(page) == limit else None
    return EventPage(items=[_out(event) for event in page], next_after=next_after)


@router.get(
    "/events",
    response_class=EventStream,
    status_code=200,  # EventStream takes no status_code, which OpenAPI generation reads
    responses=_stream_doc("the tenant's events as they are stored"),
    summary="Follow every event of the tenant (Server-Sent Events)",
)
async def tenant_event_stream(
    state: State,
    caller: Annotated[Principal, require("events:read")],
    last_event_id: LastEventId = None,
    after: After = None,
    follow: Annotated[
        bool, Query(description="false: send the stored events after `after` and end")
    ] = True,
) -> EventStream:
    """Every event of the caller's tenant (of the runs they may see), from now on (or after
    the cursor in `Last-Event-ID` or `?after=`; `after=0` starts at the beginning). Events come
    in id order, each exactly once; one whose transaction commits after a higher id was sent
    comes as soon as it is seen. Each frame's `id` is the highest event id sent so far (the
    event's own `id` is in `data`), so resuming with `Last-Event-ID` repeats nothing."""
    return EventStream(
        tails.tenant_events(
            state.db,
            state.bus,
            caller.tenant_id,
            _resume_point(last_event_id, after),
            viewer=run_viewer(caller.id, caller.roles),
            follow=follow,
            poll_seconds=state.settings.poll_seconds,
            heartbeat_seconds=KEEPALIVE_SECONDS,
        )
    )


@router.get(
    "/events/schemas",
    response_model=dict[str, dict[str, Any]],
    summary="The JSON Schema of every event type",
)
async def event_schemas(_caller: Annotated[Principal, require("events:read")]) -> dict[str, Any]:
    """`{"<type>@<version>": <JSON Schema of its data>}` for every event type."""
    return schemas()
