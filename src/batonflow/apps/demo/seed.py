"""The demo tenant `batonflow demo serve` seeds: users with fresh passwords, the enabled apps'
workflows (the demo's examples among them) and any given files, and a note on how to sign in.

Each start gives every demo user a new random password (printed, and written to
`<data dir>/demo-credentials.json`, readable by the owner only), so no password is ever
shipped with Batonflow. Seeding is idempotent: users are created or reset, workflow versions
stored once.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from batonflow.api.deps import ApiState
from batonflow.apps import workflows as app_workflows
from batonflow.auth.accounts import add_user, new_password
from batonflow.store import users
from batonflow.store import workflows as workflow_store
from batonflow.store.db import Conn
from batonflow.store.tenants import ensure_tenant, get_tenant
from batonflow.workflows.validation import load_spec

TENANT = "demo"
USERS = (
    ("admin@demo.example", "Demo Admin", "admin"),
    ("operator@demo.example", "Demo Operator", "operator"),
    ("reviewer@demo.example", "Demo Reviewer", "reviewer"),
)


@dataclass(frozen=True)
class DemoSeed:
    tenant: str
    accounts: list[tuple[str, str, str]]  # (role, email, password)
    workflows: list[str]
    credentials_file: Path
    notes: list[str] = field(default_factory=list)  # what the apps seeded

    def describe(self, url: str) -> str:
        width = max(len(email) for _, email, _ in self.accounts)
        lines = [f"Demo tenant '{self.tenant}'. Sign in at {url} as:"]
        lines += [
            f"  {role:<9} {email:<{width}}  password: {password}"
            for role, email, password in self.accounts
        ]
        if self.workflows:
            lines.append(f"Workflows stored: {', '.join(self.workflows)}")
        lines += self.notes
        lines.append(f"(also written to {self.credentials_file})")
        return "\n".join(lines)


async def seed_demo(state: ApiState, sources: list[tuple[str, str]]) -> DemoSeed:
    """Create or refresh the demo tenant; `sources` are (file name, text) of workflows."""
    now = state.now()
    accounts = []
    hashed = []
    for email, name, role in USERS:
        password = secrets.token_urlsafe(12)
        accounts.append((role, email, password))
        hashed.append((email, name, role, await new_password(state.settings, password)))
    specs = [load_spec(text, name, state.registry) for name, text in sources]

    async def work(conn: Conn) -> list[str]:
        stored: list[str] = []
        tenant_id = await ensure_tenant(conn, TENANT, now, "Demo")
        for email, name, role, password_hash in hashed:
            found = await users.find_by_email(conn, email)
            if found is not None and found["tenant_id"] == tenant_id:
                await users.update_user(
                    conn,
                    tenant_id,
                    found["id"],
                    password_hash=password_hash,
                    role=role,
                    active=True,
                )
                continue
            await add_user(conn, tenant_id, email, name, role, password_hash, now)
        installed = await app_workflows.install(conn, [tenant_id], state.apps, state.registry, now)
        stored += [f"{row.workflow_id}@{row.version}" for row in installed]
        for spec, (name, text) in zip(specs, sources, strict=True):
            version, _ = await workflow_store.save_version(
                conn, tenant_id, spec, text, now, origin=name
            )
            stored.append(f"{version.workflow_id}@{version.version}")
        return stored

    stored = await state.transact(work)
    tenant_id = await state.query(lambda conn: get_tenant(conn, TENANT))
    notes = []
    for app in state.apps:
        if app.demo is not None:
            notes += await app.demo(state, tenant_id)
    path = state.settings.data_dir / "demo-credentials.json"
    await asyncio.to_thread(
        _write_private,
        path,
        {
            "tenant": TENANT,
            "users": [{"role": r, "email": e, "password": p} for r, e, p in accounts],
        },
    )
    return DemoSeed(TENANT, accounts, stored, path, notes)


def _write_private(path: Path, data: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
