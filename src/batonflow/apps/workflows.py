"""App workflows: the workflow files an app ships, stored as versions in a tenant.

Versions are immutable and content-hashed, so storing the same file again changes nothing; an app
that changes a workflow must give it a new version, or storing it is a `Conflict` that says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from batonflow.apps.app import Apps
from batonflow.errors import ConfigError, Conflict
from batonflow.store import workflows as workflow_store
from batonflow.store.db import Conn
from batonflow.store.tenants import list_tenant_ids
from batonflow.workflows.validation import Catalog, load_spec


async def install(
    conn: Conn, tenant_ids: Iterable[str], apps: Apps, catalog: Catalog, now: datetime
) -> list[workflow_store.VersionRow]:
    """Store every enabled app's workflows in each tenant (each file read and checked once);
    returns the versions stored now."""
    files = []
    for app in apps:
        for path in app.workflow_files():
            text = path.read_text(encoding="utf-8")
            files.append((app.name, path.name, text, load_spec(text, path.name, catalog)))
    stored = []
    for tenant_id in tenant_ids:
        for app_name, name, text, spec in files:
            try:
                row, created = await workflow_store.save_version(
                    conn, tenant_id, spec, text, now, origin=name
                )
            except Conflict as exc:
                raise ConfigError(
                    f"the app '{app_name}' ships {name} as {spec.id}@{spec.version}, but that "
                    "version is stored with other content; give the changed workflow a new "
                    "version",
                    details=exc.details,
                ) from None
            if created:
                stored.append(row)
    return stored


async def install_everywhere(
    conn: Conn, apps: Apps, catalog: Catalog, now: datetime
) -> list[workflow_store.VersionRow]:
    """Store the apps' workflows in every tenant (on start-up), in one transaction."""
    return await install(conn, await list_tenant_ids(conn), apps, catalog, now)
