"""Ingestion as a workflow: each new or changed document is indexed by a run of the platform's
`kb-ingest` (stored in a tenant the first time it ingests), so it is durable, retried and
visible with the tenant's other runs; its one step calls the `kb.ingest` tool.
"""

from __future__ import annotations

from datetime import datetime

from batonflow.runs.service import Actor, start_run
from batonflow.runs.state import RunRow
from batonflow.store import kb as kb_store
from batonflow.store import workflows as workflow_store
from batonflow.store.db import Conn
from batonflow.workflows.validation import load_spec

WORKFLOW = "kb-ingest"
SPEC = """
id: kb-ingest
version: 1
description: Read, chunk, embed and index a knowledge-base document.
inputs:
  document_id: {type: string, description: the stored document}
  source: {type: string, default: "", description: where it came from (for people)}
steps:
  - id: ingest
    kind: tool
    tool: kb.ingest
    args: {document_id: "{{ inputs.document_id }}"}
    retry: {max_attempts: 3, backoff: {initial: 2}}
    timeout: 3600
outputs:
  status: "{{ state.ingest.status }}"
  chunks: "{{ state.ingest.chunks }}"
"""


async def start_ingestion(
    conn: Conn, tenant_id: str, document: dict[str, object], actor: Actor, now: datetime
) -> RunRow:
    """Queue a `kb-ingest` run for a stored document and record it on the document (in the
    caller's write transaction; the caller wakes the executors once it commits)."""
    spec = load_spec(SPEC, f"{WORKFLOW}.yaml")
    version, _ = await workflow_store.save_version(conn, tenant_id, spec, SPEC, now)
    document_id = str(document["id"])
    run = await start_run(
        conn,
        tenant_id=tenant_id,
        version=version,
        inputs={"document_id": document_id, "source": str(document.get("source", ""))},
        actor=actor,
        now=now,
    )
    await kb_store.update_document(conn, tenant_id, document_id, {"run_id": run.id}, now)
    return run
