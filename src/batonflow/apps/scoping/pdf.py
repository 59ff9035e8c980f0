"""The charter as a PDF (fpdf2), laid out from its Markdown: headings in bold, lists indented.
Text is written through `batonflow.pdf.latin1`, so any answer renders in the core fonts.
"""

from __future__ import annotations

from collections.abc import Sequence

from fpdf import FPDF

from batonflow.apps.scoping.charter import Charter, markdown
from batonflow.pdf import latin1


def render(charter: Charter, *, version: int, signoffs: Sequence[str] = ()) -> bytes:
    """The PDF of one charter version, with its sign-off lines at the end."""
    pdf = FPDF(format="A4")
    pdf.set_title(latin1(f"Project charter: {charter.title}"))
    pdf.set_creator("Batonflow scoping")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    width = pdf.epw
    lines = markdown(charter, version=version).splitlines()
    if signoffs:
        lines += ["", "## Sign-off", "", *(f"- {line}" for line in signoffs)]
    for line in lines:
        text = latin1(line)
        if text.startswith("# "):
            pdf.set_font("Helvetica", "B", 16)
            pdf.multi_cell(width, 9, text[2:], new_x="LMARGIN", new_y="NEXT")
        elif text.startswith("## ") or text.startswith("### "):
            pdf.ln(2)
            pdf.set_font("Helvetica", "B", 13 if text.startswith("## ") else 11)
            pdf.multi_cell(width, 7, text.lstrip("#").strip(), new_x="LMARGIN", new_y="NEXT")
        elif not text.strip():
            pdf.ln(2)
        else:
            indent = len(text) - len(text.lstrip(" "))
            pdf.set_font("Helvetica", "", 10)
            pdf.set_x(pdf.l_margin + indent * 2)
            pdf.multi_cell(width - indent * 2, 5, text.strip(), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
