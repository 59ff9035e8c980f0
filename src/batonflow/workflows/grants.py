"""Checks of a spec's tool grants (`tools:` on `agent`, `llm` and `tool` steps), made when a
workflow is validated, against what each tool declares it needs (`agents/needs.py`)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, Protocol

from batonflow.agents.needs import ToolNeeds
from batonflow.workflows import templates
from batonflow.workflows.spec import (
    AgentStep,
    LlmStep,
    MapItemAgent,
    MapItemTool,
    MapStep,
    Step,
    ToolGrant,
    ToolStep,
)


class ToolCatalog(Protocol):
    def tool_names(self) -> Iterable[str]: ...
    def tool_needs(self, name: str) -> ToolNeeds | None: ...


def granting(steps: Iterable[tuple[int, Step]]) -> list[tuple[str, Any]]:
    """Every step and map sub-step that carries grants, with where it is in the spec, from the
    steps by their index in the document."""
    found: list[tuple[str, Any]] = []
    for index, step in steps:
        if isinstance(step, AgentStep | LlmStep | ToolStep):
            found.append((f"steps[{index}]", step))
        if isinstance(step, MapStep):
            found.append((f"steps[{index}].step", step.step))
    return found


def grant_templates(step: Step | MapItemAgent | MapItemTool) -> list[tuple[str, str]]:
    """The templates in a step's grants (`allow` values), with where they are."""
    found: list[tuple[str, str]] = []
    for j, grant in enumerate(getattr(step, "tools", ())):
        for path, text in templates.strings(grant.allow):
            found.append((f"tools[{j}].allow.{path}", text))
    return found


def grant_issues(steps: Iterable[tuple[int, Step]], catalog: ToolCatalog) -> list[str]:
    issues: list[str] = []
    names = set(catalog.tool_names())
    for where, step in granting(steps):
        seen: set[str] = set()
        for j, grant in enumerate(step.tools):
            at = f"{where}.tools[{j}]"
            if grant.tool in seen:
                issues.append(f"{at}: '{grant.tool}' is granted twice")
            seen.add(grant.tool)
            if isinstance(step, ToolStep | MapItemTool) and grant.tool != step.tool:
                issues.append(
                    f"{at}: a tool step calls only its own tool '{step.tool}'; "
                    f"grant '{grant.tool}' to an agent or llm step instead"
                )
                continue
            needs = catalog.tool_needs(grant.tool)
            if grant.tool not in names or needs is None:
                close = difflib.get_close_matches(grant.tool, list(names), n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                issues.append(f"{at}.tool: unknown tool '{grant.tool}'{hint}")
                continue
            issues += _limits(at, step, grant, needs)
    return issues


def _limits(at: str, step: Any, grant: ToolGrant, needs: ToolNeeds) -> list[str]:
    issues: list[str] = []
    for arg in grant.allow:
        if arg not in needs.bounded:
            bounded = ", ".join(needs.bounded) or "no arguments"
            issues.append(f"{at}.allow.{arg}: '{grant.tool}' lets a grant limit {bounded}")
    if not isinstance(step, ToolStep | MapItemTool):  # a model or an agent picks the arguments
        for arg in needs.bounded:
            if arg not in grant.allow:
                issues.append(
                    f"{at}: '{grant.tool}' must be limited when an agent or a model calls it: "
                    f"add allow.{arg} (the values it may take)"
                )
    if grant.hosts is not None:
        problem = needs.host_issue(grant.hosts)
        if problem:
            issues.append(f"{at}.hosts: {problem}")
    return issues
