"""`python -m batonflow.api.openapi`: the API's OpenAPI document as stable JSON, made without a
database (the dashboard's generated types are made from it)."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

import pytest

from batonflow.api import openapi


def test_render_sorts_keys_and_ends_with_a_newline() -> None:
    assert openapi.render({"b": 1, "a": {"d": [1], "c": "é"}}) == (
        '{\n  "a": {\n    "c": "é",\n    "d": [\n      1\n    ]\n  },\n  "b": 1\n}\n'
    )


def test_main_writes_the_document_without_touching_a_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A database nobody listens on, and a short secret: neither is used for the document.
    monkeypatch.setenv("BATONFLOW_DATABASE_URL", "postgresql://nobody@127.0.0.1:9/nothing")
    monkeypatch.setenv("BATONFLOW_SECRET_KEY", "short")
    target = tmp_path / "openapi.json"
    openapi.main([str(target)])
    openapi.main([])
    written = target.read_text(encoding="utf-8")
    assert capsys.readouterr().out == written
    document = json.loads(written)
    assert openapi.render(document) == written
    assert (document["openapi"], document["info"]["title"], document["info"]["version"]) == (
        "3.1.0",
        "Batonflow API",
        version("batonflow"),
    )
    assert document["paths"]["/api/v1/runs/{run_id}"]["get"]["responses"]["200"] == {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RunDetail"}}},
        "description": "Successful Response",
    }
