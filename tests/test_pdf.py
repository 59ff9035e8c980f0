"""Text for the PDF core fonts: plain forms for typographic marks, `?` for the rest."""

from __future__ import annotations

from batonflow.pdf import latin1


def test_any_text_becomes_latin1() -> None:
    assert latin1("\u201cFee\u201d \u2013 \u20ac5 \u2022 caf\u00e9 \u2212 \u6f22 \ufb01") == (
        '"Fee" - EUR 5 - caf\u00e9 - ? fi'
    )
