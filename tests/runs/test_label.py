from __future__ import annotations

from batonflow.runs.label import clip, inputs_preview, run_label


def test_a_label_reads_the_first_text_inputs_and_numbers_only_without_text() -> None:
    lead = {"budget": 90000, "name": "Ada  Lovelace", "email": "ada@example.com", "company": "AE"}
    assert run_label(lead) == "Ada Lovelace · ada@example.com · AE"
    assert run_label({"amount": 12.5, "urgent": True, "name": "Bo"}) == "Bo"
    assert run_label({"amount": 12.5, "count": 3, "urgent": True}) == "12.5 · 3"
    assert run_label({"tags": ["north", "", "vip"], "meta": {"k": "v"}}) == "north · vip"
    doc = {"source": "products.md", "document_id": "01a23e0e-1b32-7188-a48a-53e0ffe9b8bd"}
    assert run_label(doc) == "products.md"


def test_a_label_without_text_inputs_is_empty() -> None:
    assert run_label({}) == ""
    assert run_label(None) == ""
    assert run_label({"flag": False, "nothing": None, "blank": "  ", "map": {"a": "b"}}) == ""


def test_a_long_label_is_cut_with_an_ellipsis() -> None:
    label = run_label({"brief": "word " * 40})
    assert label == ("word " * 12)[:59].rstrip() + "…"
    assert len(label) <= 60


def test_the_preview_shows_the_first_six_inputs_on_one_line_each() -> None:
    inputs = {f"k{i}": i for i in range(8)} | {"k0": "two\nlines", "k1": ["a", {"b": 1}]}
    assert inputs_preview(inputs) == {
        "k0": "two lines",
        "k1": '["a", {"b": 1}]',
        "k2": "2",
        "k3": "3",
        "k4": "4",
        "k5": "5",
    }
    assert inputs_preview({"text": "é" * 50}) == {"text": "é" * 39 + "…"}


def test_clip_keeps_short_text_and_cuts_long_text() -> None:
    assert clip(" a \t b ", 10) == "a b"
    assert clip("abcdefghij", 10) == "abcdefghij"
    assert clip("abcdefghijk", 10) == "abcdefghi…"


def test_long_values_show_only_their_start() -> None:
    many = list(range(10_000))
    assert inputs_preview({"ids": many, "text": "word  " * 10_000}) == {
        "ids": "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,…",
        "text": ("word " * 8)[:39] + "…",
    }
    leads = [{"name": f"lead {i}"} for i in range(1_000)]
    assert run_label({"leads": [*leads, "Acme", 7, "Bo"], "city": "Oslo"}) == "Acme · Bo · Oslo"
    assert run_label({"list": [1, 2, 3, "Acme"], "n": 4}) == "1 · 2 · 3"
