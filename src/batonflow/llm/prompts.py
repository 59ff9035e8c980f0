"""The prompt registry: prompt templates stored by key as immutable, numbered versions.

A prompt declares the variables it reads; saving one that reads an undeclared name is refused,
and rendering one without a declared variable (or with an unknown one) is an error that names
it. Templates render in the same Jinja2 sandbox as workflow specs. Saving content identical to
the newest version returns that version instead of adding a copy.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from batonflow.errors import InvalidArgs, InvalidInput
from batonflow.store import prompts as prompt_store
from batonflow.store.db import Conn
from batonflow.workflows import templates

KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,127}$")


@dataclass(frozen=True, slots=True)
class PromptDraft:
    key: str
    template: str
    variables: tuple[str, ...] = ()
    system: str | None = None
    description: str = ""

    def fields(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "template": self.template,
            "system": self.system,
            "variables": list(self.variables),
            "description": self.description,
            "content_hash": self.content_hash(),
        }

    def content_hash(self) -> str:
        body = {
            "template": self.template,
            "system": self.system,
            "variables": sorted(self.variables),
        }
        return "sha256:" + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def check(draft: PromptDraft) -> list[str]:
    """Every problem with a draft, as readable lines."""
    issues: list[str] = []
    if not KEY.match(draft.key):
        issues.append(
            f"key '{draft.key}': use lowercase letters, digits, '.', '_' or '-' (up to 128)"
        )
    if not draft.template.strip():
        issues.append("template: is empty")
    for name in draft.variables:
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            issues.append(f"variables: '{name}' is not a valid variable name")
    declared = set(draft.variables)
    for where, text in (("template", draft.template), ("system", draft.system or "")):
        if not templates.is_template(text):
            continue  # plain text: nothing to check
        error = templates.syntax_error(text)
        if error:
            issues.append(f"{where}: template syntax error: {error}")
            continue
        for ref in sorted({r.root for r in templates.references(text)}):
            if ref not in declared:
                issues.append(
                    f"{where}: reads '{ref}', which is not a declared variable "
                    f"(add '{ref}' to the prompt's variables)"
                )
    return issues


async def save(
    conn: Conn, tenant_id: str, draft: PromptDraft, created_by: str, now: datetime
) -> tuple[dict[str, Any], bool]:
    """(the stored version, whether it is new)."""
    issues = check(draft)
    if issues:
        raise InvalidInput(
            f"prompt '{draft.key}' is invalid: " + "; ".join(issues), details={"issues": issues}
        )
    newest = await prompt_store.latest(conn, tenant_id, draft.key)
    if newest is not None and newest["content_hash"] == draft.content_hash():
        return newest, False
    return await prompt_store.insert_version(conn, tenant_id, draft.fields(), created_by, now), True


def render(prompt: Mapping[str, Any], variables: Mapping[str, Any]) -> tuple[str | None, str]:
    """(system, user text) of a stored prompt version with `variables`."""
    declared = set(prompt["variables"])
    label = f"prompt '{prompt['key']}' v{prompt['version']}"
    missing = sorted(declared - set(variables))
    unknown = sorted(set(variables) - declared)
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown {', '.join(unknown)}")
        raise InvalidArgs(
            f"{label} declares variables {sorted(declared)}: {'; '.join(parts)}",
            details={"missing": missing, "unknown": unknown},
        )
    system = prompt["system"]
    return (
        templates.render_text(system, variables) if system else None,
        templates.render_text(prompt["template"], variables),
    )
