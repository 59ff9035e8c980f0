"""Loading workflow specs: parsed once at load time and checked for what Pydantic cannot check.

`load_spec(text, source, catalog)` parses YAML or JSON into a `WorkflowSpec` and checks what
Pydantic cannot: duplicate step ids, `needs` that name unknown steps, cycles, template references
to undeclared inputs or to steps that are not upstream, capabilities or tools nobody provides, and
tool grants that do not fit what the tool declares (`workflows/grants.py`).
Every problem is reported with its location (`steps[3].needs: unknown step 'valuate' (did you
mean 'valuation'?)`), all at once, in one `SpecError`.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import jsonschema
import yaml
from pydantic import ValidationError

from batonflow.agents.needs import ToolNeeds
from batonflow.errors import SpecError
from batonflow.workflows import templates
from batonflow.workflows.grants import grant_issues, grant_templates
from batonflow.workflows.spec import (
    AgentStep,
    InputStep,
    LlmStep,
    MapItemAgent,
    MapItemTool,
    MapStep,
    RetrieveStep,
    ReviewStep,
    Step,
    ToolStep,
    WorkflowSpec,
)

SCOPE_ROOTS = ("inputs", "state", "ctx")


class Catalog(Protocol):
    """What a spec may refer to: capabilities, tools and step kinds this process can run."""

    def capability_names(self) -> Iterable[str]: ...
    def tool_names(self) -> Iterable[str]: ...
    def tool_needs(self, name: str) -> ToolNeeds | None:
        """What a tool declares it needs, or None for an unknown tool."""
        ...

    def step_kinds(self) -> Iterable[str]: ...
    def check_model(self, target: str | None) -> str | None:
        """A problem with an `llm` step's route or model name, or None."""
        ...


def parse_document(text: str, source: str) -> Any:
    try:
        if source.endswith(".json"):
            return json.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise SpecError(source, [f"line {exc.lineno} column {exc.colno}: {exc.msg}"]) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(source, [f"{where}{problem}"]) from exc


def load_spec(text: str, source: str, catalog: Catalog | None = None) -> WorkflowSpec:
    return validate_spec(parse_document(text, source), source, catalog)


def validate_spec(document: Any, source: str, catalog: Catalog | None = None) -> WorkflowSpec:
    if not isinstance(document, Mapping):
        raise SpecError(source, ["the document must be a mapping with id, version and steps"])
    try:
        spec = WorkflowSpec.model_validate(document)
    except ValidationError as exc:
        raise SpecError(source, [_pydantic_issue(error) for error in exc.errors()]) from None
    issues = _graph_issues(spec)
    if not issues:
        issues = _template_issues(spec)
    issues += _schema_issues(spec)
    if catalog is not None:
        issues += _catalog_issues(spec, catalog)
    if issues:
        raise SpecError(source, issues)
    return spec


def _schema_issues(spec: WorkflowSpec) -> list[str]:
    issues: list[str] = []
    for index, step in enumerate(spec.steps):
        if isinstance(step, LlmStep) and step.output_schema is not None:
            try:
                jsonschema.Draft202012Validator.check_schema(step.output_schema)
            except jsonschema.SchemaError as exc:
                where = "/".join(map(str, exc.path)) or "the schema"
                issues.append(
                    f"steps[{index}].output_schema: not a valid JSON Schema at {where}: "
                    f"{exc.message}"
                )
    return issues


def _pydantic_issue(error: Any) -> str:
    path = ""
    step_kinds = {"agent", "llm", "tool", "review", "input", "map", "workflow"}
    for index, part in enumerate(error["loc"]):
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in step_kinds and index > 0 and isinstance(error["loc"][index - 1], int):
            continue  # the discriminator tag pydantic puts in the location
        elif part in step_kinds and index > 0 and error["loc"][index - 1] == "step":
            continue
        elif part in ("text", "ref") and index > 0 and error["loc"][index - 1] == "prompt":
            continue  # the tag of the prompt's two forms
        else:
            path += f".{part}" if path else str(part)
    message = error["msg"]
    if error["type"] == "union_tag_invalid":
        in_map = len(error["loc"]) >= 1 and error["loc"][-1] == "step"
        kinds = ["agent", "tool"] if in_map else sorted(step_kinds)
        message = f"unknown kind {error['input'].get('kind')!r}; use one of {kinds}"
    elif error["type"] == "union_tag_not_found":
        message = "missing 'kind'"
    elif error["type"] == "extra_forbidden":
        message = "unknown field"
    return f"{path or 'document'}: {message}"


def _suggest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _graph_issues(spec: WorkflowSpec) -> list[str]:
    issues: list[str] = []
    seen: dict[str, int] = {}
    for index, step in enumerate(spec.steps):
        if step.id in seen:
            issues.append(
                f"steps[{index}].id: duplicate step id '{step.id}' (first at steps[{seen[step.id]}])"
            )
        else:
            seen[step.id] = index
    for index, step in enumerate(spec.steps):
        for need in step.needs:
            if need not in seen:
                issues.append(f"steps[{index}].needs: unknown step '{need}'{_suggest(need, seen)}")
            elif need == step.id:
                issues.append(f"steps[{index}].needs: step '{step.id}' needs itself")
    if not issues:
        cycle = _find_cycle(spec)
        if cycle:
            index = seen[cycle[0]]
            issues.append(f"steps[{index}].needs: cycle {' -> '.join(cycle)}")
    return issues


def _find_cycle(spec: WorkflowSpec) -> list[str] | None:
    graph = {step.id: step.needs for step in spec.steps}
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def _step_templates(step: Step) -> list[tuple[str, str]]:
    found = [(f"args.{path}", text) for path, text in templates.strings(step.args)]
    if step.when is not None:
        found.append(("when", step.when))
    if isinstance(step, InputStep) and templates.is_template(step.prompt):
        found.append(("prompt", step.prompt))
    if isinstance(step, LlmStep):
        if isinstance(step.prompt, str) and templates.is_template(step.prompt):
            found.append(("prompt", step.prompt))
        if step.system and templates.is_template(step.system):
            found.append(("system", step.system))
        if step.context is not None:
            found.append(("context", step.context))
    if isinstance(step, RetrieveStep):
        names = (
            [step.knowledge_base] if isinstance(step.knowledge_base, str) else step.knowledge_base
        )
        texts = [("query", step.query), *((f"knowledge_base[{i}]", n) for i, n in enumerate(names))]
        found += [(where, text) for where, text in texts if templates.is_template(text)]
    if isinstance(step, ReviewStep):
        found += [
            ("subject" + (path if path.startswith("[") else f".{path}" if path else ""), text)
            for path, text in templates.strings(step.subject)
        ]
    if isinstance(step, MapStep):
        found.append(("over", step.over))
    found += grant_templates(step)
    return found


def _template_issues(spec: WorkflowSpec) -> list[str]:
    issues: list[str] = []
    step_ids = list(spec.by_id)
    for index, step in enumerate(spec.steps):
        visible = spec.upstream[step.id]
        checks = _step_templates(step)
        for where, text in checks:
            issues += _reference_issues(spec, f"steps[{index}].{where}", text, visible, step_ids)
        if isinstance(step, MapStep):
            item_templates = [(f"args.{p}", t) for p, t in templates.strings(step.step.args)]
            for path, text in item_templates + grant_templates(step.step):
                issues += _reference_issues(
                    spec,
                    f"steps[{index}].step.{path}",
                    text,
                    visible,
                    step_ids,
                    locals_=("item", "index"),
                )
    for path, text in templates.strings(spec.outputs):
        issues += _reference_issues(spec, f"outputs.{path}", text, frozenset(step_ids), step_ids)
    return issues


def _reference_issues(
    spec: WorkflowSpec,
    where: str,
    text: str,
    visible: frozenset[str],
    step_ids: list[str],
    locals_: tuple[str, ...] = (),
) -> list[str]:
    error = templates.syntax_error(text)
    if error:
        return [f"{where}: template syntax error: {error}"]
    issues: list[str] = []
    for ref in sorted(templates.references(text), key=lambda r: (r.root, r.key or "")):
        if ref.root in locals_:
            continue
        if ref.root not in SCOPE_ROOTS:
            if ref.key is None:
                roots = ", ".join(f"{root}." for root in (*SCOPE_ROOTS, *locals_))
                issues.append(f"{where}: unknown name '{ref.root}' (templates read {roots})")
            continue
        if ref.key is None:
            continue
        if ref.root == "inputs" and ref.key not in spec.inputs:
            hint = _suggest(ref.key, spec.inputs)
            issues.append(f"{where}: unknown input '{ref.key}'{hint}")
        elif ref.root == "state":
            if ref.key not in spec.by_id:
                issues.append(f"{where}: unknown step '{ref.key}'{_suggest(ref.key, step_ids)}")
            elif ref.key not in visible:
                issues.append(
                    f"{where}: step '{ref.key}' is not upstream; add it to needs to read its result"
                )
    return issues


def _catalog_issues(spec: WorkflowSpec, catalog: Catalog) -> list[str]:
    issues: list[str] = []
    capabilities = set(catalog.capability_names())
    tools = set(catalog.tool_names())
    kinds = set(catalog.step_kinds())
    for index, step in enumerate(spec.steps):
        if step.kind not in kinds:
            issues.append(
                f"steps[{index}].kind: steps of kind '{step.kind}' cannot run here "
                f"(this installation runs {', '.join(sorted(kinds))})"
            )
        targets: list[tuple[str, Any]] = [(f"steps[{index}]", step)]
        if isinstance(step, MapStep):
            targets.append((f"steps[{index}].step", step.step))
        for where, target in targets:
            if (
                isinstance(target, AgentStep | MapItemAgent)
                and target.capability not in capabilities
            ):
                hint = _suggest(target.capability, capabilities)
                issues.append(f"{where}.capability: unknown capability '{target.capability}'{hint}")
            if isinstance(target, LlmStep) and "llm" in kinds:
                problem = catalog.check_model(target.model)
                if problem:
                    issues.append(f"{where}.model: {problem}")
            if isinstance(target, ToolStep | MapItemTool) and target.tool not in tools:
                issues.append(
                    f"{where}.tool: unknown tool '{target.tool}'{_suggest(target.tool, tools)}"
                )
    return issues + grant_issues(spec, catalog)
