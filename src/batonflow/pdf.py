"""Text for PDFs drawn with fpdf2's core fonts (Helvetica and the like), which cover Latin-1:
typographic quotes, dashes, bullets and the minus sign become their plain forms, the euro sign
`EUR`, and any other character outside Latin-1 `?`, so any text renders. The apps' PDFs
(a charter, a portfolio result, an invoice, a contract) all write their text through `latin1`."""

from __future__ import annotations

import unicodedata

_PLAIN = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2026": "...",
        "\u2022": "-",
        "\u20ac": "EUR ",
        "\u00a0": " ",
    }
)


def latin1(text: str) -> str:
    """`text` as the core fonts can write it."""
    text = unicodedata.normalize("NFKC", text.translate(_PLAIN))
    return text.encode("latin-1", "replace").decode("latin-1")
