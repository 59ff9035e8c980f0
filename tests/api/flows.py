"""Workflow sources and small helpers the API tests share."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from batonflow.apps import demo

assert demo.app.workflows is not None
EXAMPLES = demo.app.workflows
OUTREACH = (EXAMPLES / "outreach.yaml").read_text()
LEAD = {"name": "Ada", "email": "ada@example.com", "company": "Analytical", "budget": 90000}

QUICK = """
id: quick
version: "1"
inputs:
  text: {type: string}
steps:
  - id: echo
    kind: agent
    capability: demo.sleep
    args: {value: "{{ inputs.text }}"}
outputs:
  echoed: "{{ state.echo.value }}"
"""

FAILING = """
id: failing
version: "1"
steps:
  - id: boom
    kind: agent
    capability: demo.fail
    retry: {max_attempts: 1}
    args: {message: "the ledger is locked"}
outputs: {}
"""

PRICED = """
id: priced
version: "1"
inputs:
  company: {type: string}
steps:
  - id: pitch
    kind: llm
    model: openai:gpt-4.1-mini
    prompt: "Write one line about {{ inputs.company }}."
    max_tokens: 20
  - id: approve
    kind: review
    needs: [pitch]
    subject: "{{ state.pitch }}"
outputs:
  pitch: "{{ state.pitch.text }}"
"""


async def store(client: httpx.AsyncClient, source: str, name: str = "workflow.yaml") -> Any:
    response = await client.post("/api/v1/workflows", json={"source": source, "name": name})
    assert response.status_code in (200, 201), response.text
    return response.json()


async def start(
    client: httpx.AsyncClient, workflow_id: str, inputs: dict[str, Any] | None = None
) -> Any:
    response = await client.post(
        "/api/v1/runs", json={"workflow_id": workflow_id, "inputs": inputs or {}}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def settled(
    client: httpx.AsyncClient, run_id: str, statuses: tuple[str, ...], timeout: float = 30
) -> Any:
    """Poll the run until its status is one of `statuses`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        body = (await client.get(f"/api/v1/runs/{run_id}")).json()
        if body["status"] in statuses:
            return body
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"run {run_id} is still {body['status']}: {body}")
        await asyncio.sleep(0.05)


async def streamed_runs(client: httpx.AsyncClient) -> set[str]:
    """The runs the tenant's event stream shows the client, from the beginning."""
    params = {"after": 0, "follow": "false"}
    async with client.stream("GET", "/api/v1/events", params=params) as response:
        text = (await response.aread()).decode()
    return {
        json.loads(line[len("data: ") :])["run_id"]
        for line in text.split("\n")
        if line.startswith("data: ")
    }
