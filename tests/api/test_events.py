"""Event streams through the real ASGI app on both databases: a run's stream to its end,
resuming, the backlog alone, `llm.delta` and keepalive frames, the tenant-wide stream, history
pages, event schemas, tenant isolation, and a client that hangs up being let go."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from dirty_equals import IsInt, IsStr
from fastapi import FastAPI

from batonflow.api.deps import ApiState
from batonflow.api.routes import events as event_routes
from batonflow.events.contracts import StoredEvent, schemas
from batonflow.workflows.executor import utcnow
from tests.api.conftest import Account, Signup
from tests.api.flows import LEAD, OUTREACH, QUICK, settled, start, store

QUICK_EVENTS = [
    (1, "run.queued", None),
    (2, "run.started", None),
    (3, "step.started", "echo"),
    (4, "step.completed", "echo"),
    (5, "run.succeeded", None),
]


def parse(text: str) -> list[dict[str, Any]]:
    """SSE frames as dicts: `id`, `event` and `data` (decoded), or `comment`."""
    frames = []
    for block in text.split("\n\n"):
        if not block:
            continue
        frame: dict[str, Any] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(": ")
            if name == "":
                frame["comment"] = value
            elif name == "data":
                frame["data"] = json.loads(value)
            else:
                frame[name] = value
        frames.append(frame)
    return frames


async def read_stream(
    client: httpx.AsyncClient, path: str, **kwargs: Any
) -> tuple[httpx.Response, list[dict[str, Any]]]:
    async with client.stream("GET", path, **kwargs) as response:
        body = (await response.aread()).decode()
    return response, parse(body) if response.status_code == 200 else []


def shape(frames: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(f.get("id"), f["event"], f["data"]["step_key"]) for f in frames if "event" in f]


async def quick_run(admin: Account) -> str:
    await store(admin.client, QUICK)
    run = await start(admin.client, "quick", {"text": "hi"})
    await settled(admin.client, run["id"], ("succeeded",))
    return str(run["id"])


async def waiting_run(admin: Account) -> str:
    await store(admin.client, OUTREACH)
    run = await start(admin.client, "outreach", LEAD)
    await settled(admin.client, run["id"], ("waiting",))
    return str(run["id"])


async def test_a_runs_stream_sends_every_event_then_ends_with_the_run(signup: Signup) -> None:
    admin = await signup()
    await store(admin.client, QUICK)
    run = await start(admin.client, "quick", {"text": "hi"})  # streamed while it runs
    response, frames = await read_stream(admin.client, f"/api/v1/runs/{run['id']}/events")

    assert response.status_code == 200
    assert {k: response.headers[k] for k in ("content-type", "cache-control")} == {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
    }
    assert response.headers["x-accel-buffering"] == "no"
    assert [(int(f["id"]), f["event"], f["data"]["step_key"]) for f in frames] == QUICK_EVENTS
    history = await admin.client.get(f"/api/v1/runs/{run['id']}/events/history")
    assert history.status_code == 200
    assert history.json() == {"items": [f["data"] for f in frames], "next_after": None}
    assert frames[0] == {
        "id": "1",
        "event": "run.queued",
        "data": {
            "id": IsInt(gt=0),
            "type": "run.queued",
            "version": 1,
            "run_id": run["id"],
            "seq": 1,
            "step_key": None,
            "data": {"workflow_id": "quick", "workflow_version": "1", "parent_run_id": None},
            "created_at": IsStr(regex=r"\d{4}-\d\d-\d\dT[\d:.]+Z"),
        },
    }
    assert frames[-1]["data"]["data"] == {"outputs": {"echoed": "hi"}}


async def test_a_runs_stream_resumes_after_last_event_id_or_after(signup: Signup) -> None:
    admin = await signup()
    run_id = await quick_run(admin)
    path = f"/api/v1/runs/{run_id}/events"

    _, frames = await read_stream(admin.client, path, headers={"Last-Event-ID": "3"})
    assert shape(frames) == [(str(s), t, k) for s, t, k in QUICK_EVENTS[3:]]
    _, frames = await read_stream(admin.client, path, params={"after": 4})
    assert shape(frames) == [("5", "run.succeeded", None)]
    _, frames = await read_stream(
        admin.client, path, params={"after": 1}, headers={"Last-Event-ID": "4"}
    )
    assert shape(frames) == [("5", "run.succeeded", None)]  # the reconnecting header wins
    _, frames = await read_stream(admin.client, path, headers={"Last-Event-ID": "5"})
    assert frames == []  # resumed after the end: nothing more will come

    response, _ = await read_stream(admin.client, path, headers={"Last-Event-ID": "soon"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "input_invalid"


async def test_follow_false_sends_the_backlog_of_a_waiting_run_and_ends(signup: Signup) -> None:
    admin = await signup()
    run_id = await waiting_run(admin)
    response, frames = await read_stream(
        admin.client, f"/api/v1/runs/{run_id}/events", params={"follow": "false"}
    )
    assert response.status_code == 200
    assert [(f["event"], f["data"]["step_key"]) for f in frames] == [
        ("run.queued", None),
        ("run.started", None),
        ("step.started", "score"),
        ("step.completed", "score"),
        ("step.started", "draft"),
        ("step.completed", "draft"),
        ("step.started", "approve"),
        ("step.waiting", "approve"),
        ("review.requested", "approve"),
        ("run.waiting", None),
    ]
    assert [f["id"] for f in frames] == [str(n) for n in range(1, 11)]


async def test_another_tenants_run_is_a_404_before_any_streaming(signup: Signup) -> None:
    owner = await signup("acme")
    stranger = await signup("globex")
    run_id = await quick_run(owner)
    for path in (f"/api/v1/runs/{run_id}/events", f"/api/v1/runs/{run_id}/events/history"):
        for caller in (stranger, owner):
            missing = path.replace(run_id, "no-such-run") if caller is owner else path
            response = await caller.client.get(missing)
            assert response.status_code == 404
            assert response.headers["content-type"] == "application/json"
            assert response.json() == {
                "error": {
                    "code": "not_found",
                    "message": f"no run '{missing.split('/')[4]}'",
                    "details": {},
                }
            }
    async with httpx.AsyncClient(
        transport=owner.client._transport, base_url="http://batonflow.test"
    ) as anonymous:
        response = await anonymous.get(f"/api/v1/runs/{run_id}/events")
    assert response.status_code == 401


async def test_history_pages_by_seq_within_the_page_cap(signup: Signup) -> None:
    admin = await signup()
    run_id = await quick_run(admin)
    path = f"/api/v1/runs/{run_id}/events/history"
    seen: list[tuple[int, str]] = []
    after: int | None = 0
    pages = []
    while after is not None:
        body = (await admin.client.get(path, params={"after": after, "limit": 2})).json()
        seen += [(item["seq"], item["type"]) for item in body["items"]]
        pages.append(body["next_after"])
        after = body["next_after"]
    assert seen == [(s, t) for s, t, _ in QUICK_EVENTS]
    assert pages == [2, 4, None]
    too_many = await admin.client.get(path, params={"limit": 201})
    assert too_many.status_code == 422
    assert too_many.json()["error"] == {
        "code": "input_invalid",
        "message": "limit is at most 200 on this server; got 201",
        "details": {},
    }


async def test_event_schemas_are_served_by_type_and_version(signup: Signup) -> None:
    admin = await signup()
    response = await admin.client.get("/api/v1/events/schemas")
    assert response.status_code == 200
    assert response.json() == schemas()
    assert response.json()["run.cancelled@1"] == {
        "additionalProperties": False,
        "properties": {
            "by": {"title": "By", "type": "string"},
            "reason": {"default": "", "title": "Reason", "type": "string"},
        },
        "required": ["by"],
        "title": "RunCancelled",
        "type": "object",
    }


async def test_the_tenant_stream_backlog_is_the_tenants_alone(signup: Signup) -> None:
    acme = await signup("acme")
    globex = await signup("globex")
    acme_run = await quick_run(acme)
    globex_run = await quick_run(globex)
    _, frames = await read_stream(
        globex.client, "/api/v1/events", params={"after": 0, "follow": "false"}
    )
    assert {f["data"]["run_id"] for f in frames} == {globex_run}
    assert [(f["event"], f["data"]["seq"]) for f in frames] == [(t, s) for s, t, _ in QUICK_EVENTS]
    assert [int(f["id"]) for f in frames] == [f["data"]["id"] for f in frames]
    ids = [f["data"]["id"] for f in frames]
    assert ids == sorted(ids)
    _, resumed = await read_stream(
        globex.client,
        "/api/v1/events",
        params={"follow": "false"},
        headers={"Last-Event-ID": str(ids[2])},
    )
    assert [f["data"]["id"] for f in resumed] == ids[3:]
    _, nothing = await read_stream(globex.client, "/api/v1/events", params={"follow": "false"})
    assert nothing == []  # no cursor: from now on
    assert acme_run != globex_run


class Hangup:
    """A GET straight through the app's ASGI interface, read frame by frame, then hung up on.
    (httpx's ASGITransport hands back a body only once the app has finished sending it, so it
    cannot read a stream that does not end.)"""

    def __init__(self, app: FastAPI, account: Account, url: str, **headers: str) -> None:
        parts = urlsplit(url)
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": parts.path,
            "raw_path": parts.path.encode(),
            "query_string": parts.query.encode(),
            "root_path": "",
            "headers": [
                (b"host", b"batonflow.test"),
                (b"authorization", f"Bearer {account.access_token}".encode()),
                *[(k.lower().replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
            ],
            "client": ("127.0.0.1", 40000),
            "server": ("batonflow.test", 80),
        }
        self.app = app
        self.sent: asyncio.Queue[MutableMapping[str, Any]] = asyncio.Queue()
        self.gone = asyncio.Event()
        self.buffer = ""
        self.start: MutableMapping[str, Any] = {}
        self.requested = False

    async def _receive(self) -> dict[str, Any]:
        if not self.requested:
            self.requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: MutableMapping[str, Any]) -> None:
        await self.sent.put(message)

    async def frame(self) -> dict[str, Any]:
        while "\n\n" not in self.buffer:
            message = await asyncio.wait_for(self.sent.get(), 10)
            if message["type"] == "http.response.start":
                self.start = message
            else:
                self.buffer += message.get("body", b"").decode()
        block, self.buffer = self.buffer.split("\n\n", 1)
        return parse(block + "\n\n")[0]

    @asynccontextmanager
    async def open(self) -> AsyncIterator[Hangup]:
        task = asyncio.create_task(self.app(self.scope, self._receive, self._send))
        try:
            yield self
        finally:
            self.gone.set()
            await asyncio.wait_for(task, 10)


def state_of(app: FastAPI) -> ApiState:
    state: ApiState = app.state.batonflow
    return state


async def test_the_tenant_stream_follows_live_and_lets_go_of_a_client_that_hangs_up(
    app: FastAPI, signup: Signup
) -> None:
    admin = await signup()
    await store(admin.client, QUICK)
    bus = state_of(app).bus
    async with Hangup(app, admin, "/api/v1/events").open() as stream:
        while not bus._queues:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # it has read where "now" is
        run = await start(admin.client, "quick", {"text": "live"})
        frames = [await stream.frame() for _ in QUICK_EVENTS]
        assert stream.start["status"] == 200
    assert [(f["event"], f["data"]["run_id"], f["data"]["seq"]) for f in frames] == [
        (t, run["id"], s) for s, t, _ in QUICK_EVENTS
    ]
    assert [f["id"] for f in frames] == [str(f["data"]["id"]) for f in frames]
    assert bus._queues == set()


async def test_a_runs_stream_passes_llm_deltas_without_an_id_and_keeps_alive(
    app: FastAPI, signup: Signup, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_routes, "KEEPALIVE_SECONDS", 0.2)
    admin = await signup()
    run_id = await waiting_run(admin)
    state = state_of(app)
    tenant_id = (await admin.client.get("/api/v1/me")).json()["tenant"]["id"]
    delta = {"call_id": "c1", "model": "local:smollm2", "retry": 0, "index": 0, "text": "Hi"}
    async with Hangup(app, admin, f"/api/v1/runs/{run_id}/events", Last_Event_ID="9").open() as s:
        assert (await s.frame())["event"] == "run.waiting"
        assert await s.frame() == {"comment": "keepalive"}
        now = utcnow()
        state.bus.publish(
            [
                StoredEvent(None, "llm.delta", 1, tenant_id, "another-run", 0, "x", delta, now),
                StoredEvent(None, "llm.delta", 1, tenant_id, run_id, 0, "approve", delta, now),
            ]
        )
        assert await s.frame() == {
            "event": "llm.delta",
            "data": {
                "id": None,
                "type": "llm.delta",
                "version": 1,
                "run_id": run_id,
                "seq": None,
                "step_key": "approve",
                "data": delta,
                "created_at": now.isoformat().replace("+00:00", "Z"),
            },
        }
        assert len(state.bus._queues) == 1
    assert state.bus._queues == set()


async def test_the_stream_routes_are_documented_as_event_streams(app: FastAPI) -> None:
    paths = app.openapi()["paths"]
    for path in ("/api/v1/runs/{run_id}/events", "/api/v1/events"):
        ok = paths[path]["get"]["responses"]["200"]
        assert list(ok["content"]) == ["text/event-stream"]
        assert paths[path]["get"]["x-scope"] == "events:read"
    history = paths["/api/v1/runs/{run_id}/events/history"]["get"]["responses"]["200"]
    assert history["content"] == {
        "application/json": {"schema": {"$ref": "#/components/schemas/EventPage"}}
    }
