"""Loading and validating workflow specs: every problem is reported, located, all at once."""

from __future__ import annotations

import json
from collections.abc import Iterable

import pytest
import yaml

from batonflow.agents.needs import ToolNeeds
from batonflow.apps.demo import registry as demo_registry
from batonflow.errors import SpecError
from batonflow.workflows.spec import (
    AgentStep,
    InputField,
    LlmStep,
    MapItemAgent,
    MapStep,
    PromptRef,
    ReviewStep,
    ToolStep,
)
from batonflow.workflows.validation import Catalog, load_spec, validate_spec
from tests.workflows.test_spec import MARKET, steps_yaml

CATALOG = demo_registry()
ALL_KINDS = "['agent', 'input', 'llm', 'map', 'review', 'tool', 'workflow']"


def spec_issues(text: str, source: str = "test.yaml", catalog: Catalog | None = None) -> list[str]:
    """The issues `load_spec` reports for `text` (it must reject it)."""
    with pytest.raises(SpecError) as caught:
        load_spec(text, source, catalog)
    assert caught.value.source == source
    return caught.value.issues


class KindsCatalog:
    """A catalog that runs every step kind and knows the demo agents' names."""

    def capability_names(self) -> Iterable[str]:
        return CATALOG.capability_names()

    def tool_names(self) -> Iterable[str]:
        return CATALOG.tool_names()

    def tool_needs(self, name: str) -> ToolNeeds | None:
        return CATALOG.tool_needs(name)

    def step_kinds(self) -> Iterable[str]:
        return ("agent", "llm", "tool", "review", "input", "map", "workflow")

    def check_model(self, target: str | None) -> str | None:
        if target in (None, "small", "local:smollm2"):
            return None
        return f"'{target}' is neither a route nor a configured model"


# -- loading ------------------------------------------------------------------------------------


def test_load_yaml_spec() -> None:
    spec = load_spec(MARKET, "market.yaml", CATALOG)

    assert (spec.id, spec.version, spec.description) == (
        "market-report",
        "1",
        "Price symbols and summarise them.",
    )
    assert [(step.id, step.kind) for step in spec.steps] == [
        ("quotes", "map"),
        ("news", "agent"),
        ("report", "agent"),
    ]
    assert spec.inputs == {
        "symbols": InputField(type="array", items={"type": "string"}, default=["ACME", "GLOBEX"]),
        "topic": InputField(type="string", description="What the headline is about"),
    }
    quotes = spec.by_id["quotes"]
    assert isinstance(quotes, MapStep)
    assert quotes.step == MapItemAgent(
        kind="agent",
        capability="quote.price",
        args={"symbol": "{{ item }}", "delay_ms": "{{ index * 0 }}"},
    )
    report = spec.by_id["report"]
    assert isinstance(report, AgentStep)
    assert report.model_dump(mode="json") == {
        "id": "report",
        "kind": "agent",
        "capability": "report.summarize",
        "tools": [],
        "description": "",
        "needs": ["quotes", "news"],
        "args": {"quotes": "{{ state.quotes }}", "headline": "{{ state.news.headline }}"},
        "when": None,
        "retry": {
            "max_attempts": 3,
            "backoff": {"initial": 0.5, "multiplier": 2.0, "max": 60.0, "jitter": 0.2},
            "retry_on": None,
        },
        "timeout": None,
    }
    assert spec.outputs == {"report": "{{ state.report.text }}"}


def test_load_json_spec_equals_the_same_spec_in_yaml() -> None:
    document = yaml.safe_load(MARKET)
    from_json = load_spec(json.dumps(document), "market.json", CATALOG)
    from_yaml = load_spec(MARKET, "market.yaml", CATALOG)

    assert from_json == from_yaml
    assert from_json.content_hash == from_yaml.content_hash


def test_validate_spec_takes_a_parsed_document() -> None:
    spec = validate_spec(yaml.safe_load(MARKET), "market.yaml", CATALOG)

    assert spec == load_spec(MARKET, "market.yaml", CATALOG)


def test_catalog_is_optional() -> None:
    spec = load_spec(steps_yaml("{id: a, kind: agent, capability: no.such.thing}"), "w.yaml")

    assert spec.by_id == {"a": AgentStep(id="a", kind="agent", capability="no.such.thing")}


def test_map_sub_step_args_may_read_item_and_index() -> None:
    text = steps_yaml(
        "{id: m, kind: map, over: '[1, 2]', step: {kind: tool, tool: email.send,"
        " args: {to: '{{ item.to }}', subject: 's{{ index }}', body: '{{ item.body }}'}}}"
    )

    spec = load_spec(text, "w.yaml", CATALOG)

    step = spec.by_id["m"]
    assert isinstance(step, MapStep)
    assert step.over == "[1, 2]"
    assert step.concurrency == 8


def test_item_and_index_are_unknown_outside_a_map_sub_step() -> None:
    text = steps_yaml(
        "{id: m, kind: map, over: '{{ item }}', step: {kind: agent, capability: demo.noop}}",
        "{id: a, kind: agent, capability: demo.noop, args: {i: '{{ index }}'}}",
    )

    assert spec_issues(text) == [
        "steps[0].over: unknown name 'item' (templates read inputs., state., ctx.)",
        "steps[1].args.i: unknown name 'index' (templates read inputs., state., ctx.)",
    ]


def test_map_sub_step_unknown_root_lists_the_locals_too() -> None:
    text = steps_yaml(
        "{id: m, kind: map, over: '[1]', step: {kind: agent, capability: demo.noop,"
        " args: {x: '{{ itme }}'}}}"
    )

    assert spec_issues(text) == [
        "steps[0].step.args.x: unknown name 'itme'"
        " (templates read inputs., state., ctx., item., index.)"
    ]


def test_review_input_and_llm_steps_load() -> None:
    text = steps_yaml(
        "{id: ask, kind: input, prompt: 'Which budget?', schema: {type: object}}",
        "{id: check, kind: review, needs: [ask], subject: {budget: '{{ state.ask.budget }}'},"
        " on_reject: continue}",
        "{id: write, kind: llm, needs: [check], prompt: Write it, model: small}",
    )

    spec = load_spec(text, "w.yaml", KindsCatalog())

    assert [step.kind for step in spec.steps] == ["input", "review", "llm"]
    check = spec.by_id["check"]
    assert isinstance(check, ReviewStep)
    assert (check.reviewers, check.allow_edit, check.on_reject) == (
        ["reviewer", "admin"],
        True,
        "continue",
    )
    assert spec.by_id["ask"].model_dump(by_alias=True)["schema"] == {"type": "object"}


def test_llm_steps_check_their_model_schema_and_prompt_templates() -> None:
    text = steps_yaml(
        "{id: a, kind: llm, prompt: 'Hi {{ inputs.nme }}', model: huge}",
        "{id: b, kind: llm, prompt: Hi, output_schema: {type: objekt}}",
        "{id: c, kind: llm, prompt: {key: greet, version: 0}}",
        "{id: d, kind: llm, prompt: Hi, system: '{{ state.a.text }}'}",
        header="inputs: {name: {type: string}}",
    )

    # Every problem at once: the step that does not parse, and what the others get wrong.
    later = [
        "steps[0].prompt: unknown input 'nme' (did you mean 'name'?)",
        "steps[3].system: step 'a' is not upstream; add it to needs to read its result",
        "steps[1].output_schema: not a valid JSON Schema at type: 'objekt' is not valid under "
        "any of the given schemas",
        "steps[0].model: 'huge' is neither a route nor a configured model",
    ]
    assert spec_issues(text, catalog=KindsCatalog()) == [
        "steps[2].prompt.version: Input should be greater than or equal to 1",
        *later,
    ]
    fixed = text.replace("version: 0", "version: 2")
    assert spec_issues(fixed, catalog=KindsCatalog()) == later
    spec = load_spec(
        fixed.replace("model: huge", "model: small")
        .replace("{type: objekt}", "{type: object}")
        .replace("nme", "name")
        .replace("'{{ state.a.text }}'", "Be brief"),
        "w.yaml",
        KindsCatalog(),
    )
    step = spec.by_id["c"]
    assert isinstance(step, LlmStep)
    assert step.prompt == PromptRef(key="greet", version=2)
    assert (step.max_tokens, step.temperature, step.model) == (512, None, None)


# -- graph errors -------------------------------------------------------------------------------


def test_duplicate_step_ids() -> None:
    text = steps_yaml(
        "{id: a, kind: agent, capability: x}",
        "{id: b, kind: agent, capability: x}",
        "{id: a, kind: agent, capability: x}",
        "{id: b, kind: agent, capability: x}",
    )

    assert spec_issues(text) == [
        "steps[2].id: duplicate step id 'a' (first at steps[0])",
        "steps[3].id: duplicate step id 'b' (first at steps[1])",
    ]


def test_unknown_need_with_suggestion() -> None:
    text = steps_yaml(
        "{id: fetch, kind: agent, capability: x}",
        "{id: parse, kind: agent, capability: x, needs: [fetch]}",
        "{id: valuation, kind: agent, capability: x, needs: [parse]}",
        "{id: report, kind: agent, capability: x, needs: [valuate, zzz]}",
    )

    with pytest.raises(SpecError) as caught:
        load_spec(text, "deals.yaml")

    error = caught.value
    assert error.issues == [
        "steps[3].needs: unknown step 'valuate' (did you mean 'valuation'?)",
        "steps[3].needs: unknown step 'zzz'",
    ]
    assert error.message == (
        "deals.yaml: invalid workflow\n"
        "  steps[3].needs: unknown step 'valuate' (did you mean 'valuation'?)\n"
        "  steps[3].needs: unknown step 'zzz'"
    )
    assert str(error) == error.message
    assert error.details == {"issues": error.issues}
    assert (error.code, error.docs) == ("spec_invalid", "docs/errors.md#spec_invalid")


def test_step_that_needs_itself() -> None:
    text = steps_yaml(
        "{id: a, kind: agent, capability: x}",
        "{id: b, kind: agent, capability: x, needs: [a, b]}",
    )

    assert spec_issues(text) == ["steps[1].needs: step 'b' needs itself"]


def test_cycle_shows_its_path() -> None:
    text = steps_yaml(
        "{id: start, kind: agent, capability: x}",
        "{id: a, kind: agent, capability: x, needs: [start, c]}",
        "{id: b, kind: agent, capability: x, needs: [a]}",
        "{id: c, kind: agent, capability: x, needs: [b]}",
    )

    assert spec_issues(text) == ["steps[1].needs: cycle a -> c -> b -> a"]


def test_two_step_cycle() -> None:
    text = steps_yaml(
        "{id: ping, kind: agent, capability: x, needs: [pong]}",
        "{id: pong, kind: agent, capability: x, needs: [ping]}",
    )

    assert spec_issues(text) == ["steps[0].needs: cycle ping -> pong -> ping"]


def test_graph_template_and_catalog_errors_come_together() -> None:
    text = steps_yaml(
        "{id: a, kind: agent, capability: nope, args: {x: '{{ inputs.missing }}'}}",
        "{id: a, kind: agent, capability: x}",
        "{id: b, kind: agent, capability: x, needs: [c]}",
        "{id: c, kind: agent, capability: x, needs: [b], args: {y: '{{ state.zz }}'}}",
    )

    assert spec_issues(text, catalog=CATALOG) == [
        "steps[1].id: duplicate step id 'a' (first at steps[0])",
        "steps[2].needs: cycle b -> c -> b",
        "steps[0].args.x: unknown input 'missing'",
        "steps[3].args.y: unknown step 'zz'",
        "steps[0].capability: unknown capability 'nope'",
        "steps[1].capability: unknown capability 'x'",
        "steps[2].capability: unknown capability 'x'",
        "steps[3].capability: unknown capability 'x'",
    ]


def test_a_step_that_does_not_parse_leaves_the_others_checked() -> None:
    text = steps_yaml(
        "{id: fetch-news, kind: agent, capability: x, timeout: 0}",
        "{id: use, kind: agent, capability: x, needs: [fetch-news, fetch-new],"
        " args: {n: '{{ state.fetch-news }}'}}",
    )

    assert spec_issues(text) == [
        "steps[0].timeout: Input should be greater than 0",
        "steps[1].needs: unknown step 'fetch-new' (did you mean 'fetch-news'?)",
        "steps[1].args.n: unknown name 'news' (templates read inputs., state., ctx.)",
        "steps[1].args.n: unknown step 'fetch' (for the step 'fetch-news' write "
        "state['fetch-news'])",
    ]


def test_step_ids_may_have_dashes_and_templates_read_them_by_subscript() -> None:
    spec = load_spec(
        steps_yaml(
            "{id: fetch-news, kind: agent, capability: x}",
            "{id: use-it, kind: agent, capability: x, needs: [fetch-news],"
            " args: {n: \"{{ state['fetch-news'] }}\"}}",
        ),
        "w.yaml",
    )
    assert [step.id for step in spec.steps] == ["fetch-news", "use-it"]


# -- schema errors ------------------------------------------------------------------------------


def test_unknown_kind() -> None:
    text = steps_yaml("{id: a, kind: agnet, capability: x}")

    assert spec_issues(text) == [f"steps[0]: unknown kind 'agnet'; use one of {ALL_KINDS}"]


def test_missing_kind() -> None:
    text = steps_yaml("{id: a, kind: agent, capability: x}", "{id: b, capability: x}")

    assert spec_issues(text) == ["steps[1]: missing 'kind'"]


def test_unknown_field() -> None:
    text = steps_yaml("{id: a, kind: agent, capability: x, retries: 3}")

    assert spec_issues(text) == ["steps[0].retries: unknown field"]


def test_unknown_fields_in_nested_models_and_document() -> None:
    text = """
id: w
version: 1
owner: me
inputs:
  a: {type: string, optional: true}
steps:
  - {id: a, kind: agent, capability: x, retry: {max_attempts: 2, backof: {}}}
  - {id: m, kind: map, over: '[1]', step: {kind: tool, tool: t, when: x}}
"""

    assert spec_issues(text) == [
        "inputs.a.optional: unknown field",
        "steps[0].retry.backof: unknown field",
        "steps[1].step.when: unknown field",
        "owner: unknown field",
    ]


def test_missing_required_fields_are_located() -> None:
    text = steps_yaml(
        "{id: a, kind: agent}",
        "{id: b, kind: tool}",
        "{id: c, kind: map, over: '[1]', step: {kind: tool}}",
        "{id: d, kind: workflow, version: 1}",
    )

    assert spec_issues(text) == [
        "steps[0].capability: Field required",
        "steps[1].tool: Field required",
        "steps[2].step.tool: Field required",
        "steps[3].workflow: Field required",
    ]


def test_field_values_are_checked() -> None:
    text = steps_yaml(
        "{id: Bad-Id, kind: agent, capability: x}",
        "{id: b, kind: agent, capability: x, timeout: 0}",
        "{id: c, kind: agent, capability: x, retry: {max_attempts: 0}}",
        "{id: d, kind: map, over: '[1]', concurrency: 0, step: {kind: agent, capability: x}}",
    )

    assert spec_issues(text) == [
        "steps[0].id: 'Bad-Id' is not a valid id: use lowercase letters, digits, '_' and '-', "
        "starting with a letter or '_'",
        "steps[1].timeout: Input should be greater than 0",
        "steps[2].retry.max_attempts: Input should be greater than or equal to 1",
        "steps[3].concurrency: Input should be greater than or equal to 1",
    ]


def test_document_level_fields() -> None:
    assert spec_issues("name: w\n") == [
        "id: Field required",
        "version: Field required",
        "steps: Field required",
        "name: unknown field",
    ]
    assert spec_issues("id: w\nversion: 1\nsteps: []\n") == [
        "steps: List should have at least 1 item after validation, not 0"
    ]
    assert spec_issues("id: w\nversion: 1\nsteps: [a]\n") == [
        "steps[0]: Input should be a valid dictionary or object to extract fields from"
    ]


def test_unknown_map_sub_step_kind_lists_the_kinds_a_map_accepts() -> None:
    text = steps_yaml("{id: m, kind: map, over: '[1]', step: {kind: review, subject: x}}")

    assert spec_issues(text) == [
        "steps[0].step: unknown kind 'review'; use one of ['agent', 'tool']"
    ]


# -- template errors ----------------------------------------------------------------------------


def test_unknown_input_with_suggestion() -> None:
    text = steps_yaml(
        "{id: a, kind: agent, capability: x,"
        " args: {s: '{{ inputs.symbl }}', t: 'about {{ inputs.nothing_like_it }}'}}",
        header="inputs: {symbol: {type: string}}",
    )

    assert spec_issues(text) == [
        "steps[0].args.s: unknown input 'symbl' (did you mean 'symbol'?)",
        "steps[0].args.t: unknown input 'nothing_like_it'",
    ]


def test_template_locations_cover_nested_args_when_over_subject_and_outputs() -> None:
    text = """
id: w
version: 1
inputs:
  limit: {type: integer}
steps:
  - id: a
    kind: agent
    capability: x
    when: inputs.limt > 3
    args:
      deep: {list: [plain, "{{ inputs.lmit }}"]}
  - {id: m, kind: map, over: "{{ inputs.limits }}", step: {kind: agent, capability: x}}
  - {id: r, kind: review, subject: "{{ inputs.limi }}"}
  - {id: r2, kind: review, subject: {text: "{{ inputs.lim }}"}}
outputs:
  x: {nested: "{{ inputs.imit }}"}
"""

    assert spec_issues(text) == [
        "steps[0].args.deep.list[1]: unknown input 'lmit' (did you mean 'limit'?)",
        "steps[0].when: unknown input 'limt' (did you mean 'limit'?)",
        "steps[1].over: unknown input 'limits' (did you mean 'limit'?)",
        "steps[2].subject: unknown input 'limi' (did you mean 'limit'?)",
        "steps[3].subject.text: unknown input 'lim' (did you mean 'limit'?)",
        "outputs.x.nested: unknown input 'imit' (did you mean 'limit'?)",
    ]


def test_template_may_only_read_upstream_steps() -> None:
    text = steps_yaml(
        "{id: a, kind: agent, capability: x}",
        "{id: b, kind: agent, capability: x, needs: [a]}",
        "{id: c, kind: agent, capability: x, needs: [b],"
        " args: {ok: '{{ state.a.value }}', also: '{{ state.b }}'}}",
        "{id: d, kind: agent, capability: x, args: {late: '{{ state.c.value }}'}}",
        "{id: e, kind: agent, capability: x, args: {self: '{{ state.e }}'}, when: state.d.ok}",
    )

    assert spec_issues(text) == [
        "steps[3].args.late: step 'c' is not upstream; add it to needs to read its result",
        "steps[4].args.self: step 'e' is not upstream; add it to needs to read its result",
        "steps[4].when: step 'd' is not upstream; add it to needs to read its result",
    ]


def test_template_reading_an_unknown_step_suggests_one() -> None:
    text = steps_yaml(
        "{id: valuation, kind: agent, capability: x}",
        "{id: b, kind: agent, capability: x, needs: [valuation],"
        " args: {v: '{{ state.valuate.price }}'}}",
        header="outputs: {v: '{{ state.valution }}', w: '{{ state.qqq }}'}",
    )

    assert spec_issues(text) == [
        "steps[1].args.v: unknown step 'valuate' (did you mean 'valuation'?)",
        "outputs.v: unknown step 'valution' (did you mean 'valuation'?)",
        "outputs.w: unknown step 'qqq'",
    ]


def test_outputs_may_read_any_step() -> None:
    text = steps_yaml(
        "{id: a, kind: agent, capability: x}",
        "{id: b, kind: agent, capability: x}",
        header="outputs: {both: '{{ state.a.v }} {{ state.b.v }}', c: '{{ ctx.tenant }}'}",
    )

    assert load_spec(text, "w.yaml").outputs == {
        "both": "{{ state.a.v }} {{ state.b.v }}",
        "c": "{{ ctx.tenant }}",
    }


def test_unknown_template_root_name() -> None:
    text = steps_yaml(
        "{id: a, kind: agent, capability: x,"
        " args: {x: '{{ input.symbol }}', y: '{{ steps.a }}', z: '{{ inputs }}'}}"
    )

    assert spec_issues(text) == [
        "steps[0].args.x: unknown name 'input' (templates read inputs., state., ctx.)",
        "steps[0].args.y: unknown name 'steps' (templates read inputs., state., ctx.)",
    ]


def test_template_syntax_error() -> None:
    text = steps_yaml(
        "{id: a, kind: agent, capability: x, when: 'inputs.a >',"
        " args: {x: '{{ inputs.a + }}', y: '{% if %}', z: '{{ inputs.a'}}"
    )

    assert spec_issues(text) == [
        "steps[0].args.x: template syntax error: unexpected 'end of print statement'",
        "steps[0].args.y: template syntax error: Expected an expression, got 'end of statement block'",
        "steps[0].args.z: template syntax error: unexpected end of template, expected 'end of print statement'.",
        "steps[0].when: template syntax error: unexpected 'end of print statement'",
    ]


def test_input_step_prompt_references_are_checked() -> None:
    text = steps_yaml(
        "{id: ask, kind: input, prompt: 'Budget for {{ inputs.compny }}?', schema: {type: object}}",
        header="inputs: {company: {type: string}}",
    )

    assert spec_issues(text) == [
        "steps[0].prompt: unknown input 'compny' (did you mean 'company'?)"
    ]


def test_review_subject_list_location() -> None:
    text = steps_yaml("{id: r, kind: review, subject: ['{{ inputs.x }}']}")

    assert spec_issues(text) == ["steps[0].subject[0]: unknown input 'x'"]


# -- catalog errors -----------------------------------------------------------------------------


def test_unknown_capability_and_tool_with_suggestions() -> None:
    text = steps_yaml(
        "{id: a, kind: agent, capability: quote.prise}",
        "{id: b, kind: tool, tool: email.sned}",
        "{id: c, kind: agent, capability: teleport}",
        "{id: d, kind: tool, tool: lead.score}",
        "{id: m, kind: map, over: '[1]', step: {kind: agent, capability: lead.scor}}",
        "{id: n, kind: map, over: '[1]', step: {kind: tool, tool: email.sent}}",
    )

    assert spec_issues(text, catalog=CATALOG) == [
        "steps[0].capability: unknown capability 'quote.prise' (did you mean 'quote.price'?)",
        "steps[1].tool: unknown tool 'email.sned' (did you mean 'email.send'?)",
        "steps[2].capability: unknown capability 'teleport'",
        "steps[3].tool: unknown tool 'lead.score'",
        "steps[4].step.capability: unknown capability 'lead.scor' (did you mean 'lead.score'?)",
        "steps[5].step.tool: unknown tool 'email.sent' (did you mean 'email.send'?)",
    ]


def test_step_kind_the_catalog_cannot_run() -> None:
    text = steps_yaml("{id: a, kind: llm, prompt: Say hi}")

    assert spec_issues(text, catalog=CATALOG) == [
        "steps[0].kind: steps of kind 'llm' cannot run here"
        " (this installation runs agent, input, map, retrieve, review, tool, workflow)"
    ]
    assert load_spec(text, "w.yaml", KindsCatalog()).by_id["a"].kind == "llm"


def test_catalog_issues_add_to_template_issues() -> None:
    text = steps_yaml("{id: a, kind: tool, tool: nope, args: {x: '{{ inputs.x }}'}}")

    assert spec_issues(text, catalog=CATALOG) == [
        "steps[0].args.x: unknown input 'x'",
        "steps[0].tool: unknown tool 'nope'",
    ]


def test_known_names_pass() -> None:
    text = steps_yaml(
        "{id: a, kind: agent, capability: lead.score}",
        "{id: b, kind: tool, tool: email.send, needs: [a]}",
    )

    spec = load_spec(text, "w.yaml", CATALOG)

    assert spec.by_id["b"] == ToolStep(id="b", kind="tool", tool="email.send", needs=["a"])


# -- document errors ----------------------------------------------------------------------------


def test_yaml_syntax_error_has_line_and_column() -> None:
    text = "id: w\nversion: 1\nsteps:\n  - id: a\n    kind: agent\n     capability: x\n"

    assert spec_issues(text, "w.yaml") == ["line 6 column 16: mapping values are not allowed here"]


def test_yaml_syntax_error_in_flow_sequence() -> None:
    assert spec_issues("id: w\nversion: 1\nsteps: [\n  - a\n", "w.yml") == [
        "line 4 column 3: expected the node content, but found '-'"
    ]


def test_json_syntax_error_has_line_and_column() -> None:
    text = '{\n  "id": "w",\n  "version": 1\n  "steps": []\n}'

    assert spec_issues(text, "w.json") == ["line 4 column 3: Expecting ',' delimiter"]


@pytest.mark.parametrize("text", ["- a\n- b\n", "just text\n", "42\n", "", "null\n"], ids=repr)
def test_document_must_be_a_mapping(text: str) -> None:
    with pytest.raises(SpecError) as caught:
        load_spec(text, "w.yaml")

    assert caught.value.issues == ["the document must be a mapping with id, version and steps"]
    assert caught.value.message == (
        "w.yaml: invalid workflow\n  the document must be a mapping with id, version and steps"
    )


def test_json_array_is_not_a_spec() -> None:
    assert spec_issues("[1, 2]", "w.json") == [
        "the document must be a mapping with id, version and steps"
    ]


def test_json_source_is_parsed_as_json() -> None:
    # Valid YAML, but not JSON: a .json source must not fall back to YAML.
    assert spec_issues("id: w\n", "w.json") == ["line 1 column 1: Expecting value"]
