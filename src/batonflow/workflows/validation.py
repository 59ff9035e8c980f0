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
from dataclasses import dataclass
from typing import Any, Protocol

import jsonschema
import yaml
from pydantic import TypeAdapter, ValidationError

from batonflow.agents.needs import ToolNeeds
from batonflow.errors import SpecError
from batonflow.workflows import templates
from batonflow.workflows.grants import grant_issues, grant_templates
from batonflow.workflows.spec import (
    AgentStep,
    InputField,
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
        issues = [_pydantic_issue(error) for error in exc.errors()]
        # The steps that parsed are still checked, so one run shows every problem.
        issues += _issues(_Parts.of(document), catalog)
        raise SpecError(source, list(dict.fromkeys(issues))) from None
    issues = _issues(_Parts.from_spec(spec), catalog)
    if issues:
        raise SpecError(source, issues)
    return spec


@dataclass(frozen=True, slots=True)
class _Parts:
    """What the checks past Pydantic read: the steps that parsed, by their index in the
    document; every step id the document names (a step that did not parse still has one);
    the inputs (None when they did not parse) and the outputs."""

    steps: list[tuple[int, Step]]
    ids: dict[str, int]
    inputs: Mapping[str, Any] | None
    outputs: Any

    @classmethod
    def from_spec(cls, spec: WorkflowSpec) -> _Parts:
        ids: dict[str, int] = {}
        for index, step in enumerate(spec.steps):
            ids.setdefault(step.id, index)
        return cls(list(enumerate(spec.steps)), ids, spec.inputs, spec.outputs)

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> _Parts:
        raw = document.get("steps")
        raw_steps = raw if isinstance(raw, list) else []
        steps: list[tuple[int, Step]] = []
        ids: dict[str, int] = {}
        for index, item in enumerate(raw_steps):
            if isinstance(item, Mapping) and isinstance(item.get("id"), str):
                ids.setdefault(item["id"], index)
            try:
                steps.append((index, _STEP.validate_python(item)))
            except ValidationError:
                continue
        try:
            inputs: Mapping[str, Any] | None = _INPUTS.validate_python(document.get("inputs", {}))
        except ValidationError:
            inputs = None
        outputs = document.get("outputs", {})
        return cls(steps, ids, inputs, outputs if isinstance(outputs, dict) else {})

    def upstream(self) -> dict[str, frozenset[str]]:
        """Every parsed step's transitive `needs`, through known steps, cycles tolerated."""
        needs = {step.id: [n for n in step.needs if n in self.ids] for _, step in self.steps}
        closure: dict[str, frozenset[str]] = {}
        for start in needs:
            found: set[str] = set()
            todo = list(needs[start])
            while todo:
                node = todo.pop()
                if node not in found:
                    found.add(node)
                    todo += needs.get(node, [])
            closure[start] = frozenset(found)
        return closure


_STEP: TypeAdapter[Step] = TypeAdapter(Step)
_INPUTS: TypeAdapter[dict[str, InputField]] = TypeAdapter(dict[str, InputField])


def _issues(parts: _Parts, catalog: Catalog | None) -> list[str]:
    issues = _graph_issues(parts) + _template_issues(parts) + _schema_issues(parts)
    if catalog is not None:
        issues += _catalog_issues(parts, catalog)
    return issues


def _schema_issues(parts: _Parts) -> list[str]:
    issues: list[str] = []
    for index, step in parts.steps:
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
    elif error["type"] == "string_pattern_mismatch" and error["loc"][-1] == "id":
        first = "a letter or '_'" if len(error["loc"]) > 1 else "a letter or digit"
        message = (
            f"{error['input']!r} is not a valid id: use lowercase letters, digits, '_' and '-', "
            f"starting with {first}"
        )
    return f"{path or 'document'}: {message}"


def _suggest(name: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _step_hint(name: str, step_ids: list[str]) -> str:
    """`state.fetch-news` reads the step `fetch` minus `news`: point at the subscript form."""
    dashed = [step_id for step_id in step_ids if step_id.startswith(f"{name}-")]
    if dashed:
        return f" (for the step '{dashed[0]}' write state['{dashed[0]}'])"
    return _suggest(name, step_ids)


def _graph_issues(parts: _Parts) -> list[str]:
    issues: list[str] = []
    for index, step in parts.steps:
        first = parts.ids.get(step.id, index)
        if first != index:
            issues.append(
                f"steps[{index}].id: duplicate step id '{step.id}' (first at steps[{first}])"
            )
    for index, step in parts.steps:
        for need in step.needs:
            if need not in parts.ids:
                issues.append(
                    f"steps[{index}].needs: unknown step '{need}'{_suggest(need, parts.ids)}"
                )
            elif need == step.id:
                issues.append(f"steps[{index}].needs: step '{step.id}' needs itself")
    cycle = _find_cycle(parts)
    if cycle:
        issues.append(f"steps[{parts.ids[cycle[0]]}].needs: cycle {' -> '.join(cycle)}")
    return issues


def _find_cycle(parts: _Parts) -> list[str] | None:
    """A cycle of two or more steps (a step that needs itself is reported on its own)."""
    graph = {
        step.id: [n for n in step.needs if n in parts.ids and n != step.id]
        for _, step in parts.steps
    }
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
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


def _template_issues(parts: _Parts) -> list[str]:
    issues: list[str] = []
    step_ids = list(parts.ids)
    upstream = parts.upstream()
    for index, step in parts.steps:
        visible = upstream.get(step.id, frozenset())
        for where, text in _step_templates(step):
            issues += _reference_issues(parts, f"steps[{index}].{where}", text, visible, step_ids)
        if isinstance(step, MapStep):
            item_templates = [(f"args.{p}", t) for p, t in templates.strings(step.step.args)]
            for path, text in item_templates + grant_templates(step.step):
                issues += _reference_issues(
                    parts,
                    f"steps[{index}].step.{path}",
                    text,
                    visible,
                    step_ids,
                    locals_=("item", "index"),
                )
    for path, text in templates.strings(parts.outputs):
        issues += _reference_issues(parts, f"outputs.{path}", text, frozenset(step_ids), step_ids)
    return issues


def _reference_issues(
    parts: _Parts,
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
        if ref.root == "inputs" and parts.inputs is not None and ref.key not in parts.inputs:
            hint = _suggest(ref.key, parts.inputs)
            issues.append(f"{where}: unknown input '{ref.key}'{hint}")
        elif ref.root == "state":
            if ref.key not in parts.ids:
                issues.append(f"{where}: unknown step '{ref.key}'{_step_hint(ref.key, step_ids)}")
            elif ref.key not in visible:
                issues.append(
                    f"{where}: step '{ref.key}' is not upstream; add it to needs to read its result"
                )
    return issues


def _catalog_issues(parts: _Parts, catalog: Catalog) -> list[str]:
    issues: list[str] = []
    capabilities = set(catalog.capability_names())
    tools = set(catalog.tool_names())
    kinds = set(catalog.step_kinds())
    for index, step in parts.steps:
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
    return issues + grant_issues(parts.steps, catalog)
