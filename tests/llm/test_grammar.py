"""The local model's grammar lowers the length bounds llama.cpp cannot build: a schema with a
4,000-character field used to stop the whole process with a segmentation fault."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from batonflow.llm.grammar import MOST, for_grammar

SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 60},
        "summary": {"type": "string", "minLength": 100, "maxLength": 4000},
        "lines": {
            "type": "array",
            "maxItems": 500,
            "items": {"type": "string", "maxLength": 2000},
        },
        "tags": {"type": "array", "maxItems": 3, "items": {"type": "string"}},
        "score": {"type": "integer", "minimum": -2, "maximum": 2},
    },
    "required": ["title", "summary", "lines", "tags"],
}


def test_bounds_are_lowered_and_small_integer_ranges_written_out_at_any_depth() -> None:
    assert MOST == 1000
    assert for_grammar(SCHEMA) == {
        "type": "object",
        "properties": {
            "title": {"type": "string", "minLength": 1, "maxLength": 60},
            "summary": {"type": "string", "minLength": 100, "maxLength": 1000},
            "lines": {
                "type": "array",
                "maxItems": 500,
                "items": {"type": "string", "maxLength": 1000},
            },
            "tags": {"type": "array", "maxItems": 3, "items": {"type": "string"}},
            "score": {"type": "integer", "enum": [-2, -1, 0, 1, 2]},
        },
        "required": ["title", "summary", "lines", "tags"],
    }
    assert SCHEMA["properties"]["summary"]["maxLength"] == 4000  # type: ignore[index]


def test_the_local_model_answers_a_schema_with_long_bounds_and_the_process_lives() -> None:
    # In a process of its own: were the grammar still too large, llama.cpp would end it.
    program = textwrap.dedent(
        f"""
        import asyncio, json
        from batonflow.llm.local import LocalModel
        from batonflow.llm.messages import ModelRequest, UserMessage

        async def main():
            request = ModelRequest(
                messages=(UserMessage(content="Describe a product in JSON."),),
                max_tokens=40,
                temperature=0,
                output_schema=json.loads({json.dumps(json.dumps(SCHEMA))}),
            )
            reply = await LocalModel(threads=1).request(request, timeout=120)
            print(json.dumps({{"text": reply.text, "finish": reply.finish_reason}}))

        asyncio.run(main())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["finish"] == "length"  # 40 tokens: the grammar held, the answer ran on
    assert answer["text"].startswith("{")
