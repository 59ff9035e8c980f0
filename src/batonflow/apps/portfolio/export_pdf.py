"""A result as a PDF (fpdf2): what it was computed from, its positions as a table, its metrics
as name and value rows and its narrative; the sources' attribution in every page's footer, and,
when a source's licence requires it, a watermark drawn diagonally across every page under the
content. Text is written through `batonflow.pdf.latin1`, so any text renders in the core fonts.
"""

from __future__ import annotations

from collections.abc import Sequence

from fpdf import FPDF

from batonflow.pdf import latin1

# The positions table: its columns (as a result names them) and their widths in mm.
COLUMNS = ("symbol", "quantity", "price", "market_value", "weight", "currency")
WIDTHS = (34, 30, 30, 40, 26, 20)


class _Page(FPDF):
    """A page with the watermark under its content and the attribution in its footer."""

    def __init__(self, attribution: Sequence[str], watermark: str | None) -> None:
        super().__init__(format="A4")
        self.attribution = [latin1(line) for line in attribution]
        self.watermark = latin1(watermark) if watermark else None

    def footer_height(self) -> float:
        self.set_font("Helvetica", "", 7)
        lines = 0
        for line in self.attribution:
            wrapped = self.multi_cell(self.epw, 3.5, line, dry_run=True, output="LINES")
            lines += len(wrapped) if isinstance(wrapped, list) else 1
        return 3.5 * lines + 4

    def header(self) -> None:
        if self.watermark is None:
            return
        self.set_font("Helvetica", "B", 26)
        self.set_text_color(200, 200, 200)
        x = (self.w - self.get_string_width(self.watermark)) / 2
        y = self.h / 2
        with self.rotation(45, self.w / 2, y):
            self.text(x, y, self.watermark)
        self.set_text_color(0, 0, 0)

    def footer(self) -> None:
        self.set_y(-self.footer_height() - 6)
        self.set_font("Helvetica", "", 7)
        self.set_text_color(90, 90, 90)
        for line in self.attribution:
            self.multi_cell(self.epw, 3.5, line, new_x="LMARGIN", new_y="NEXT")
        self.cell(self.epw, 4, f"Page {self.page_no()}", align="R")
        self.set_text_color(0, 0, 0)


def render(
    *,
    header: Sequence[tuple[str, str]],
    positions: Sequence[Sequence[str]],
    metrics: Sequence[tuple[str, str]],
    narrative: str | None,
    attribution: Sequence[str],
    watermark: str | None,
) -> bytes:
    """The PDF of one result (its parts as `exports` extracts them)."""
    pdf = _Page(attribution, watermark)
    pdf.set_title("Portfolio result")
    pdf.set_creator("Batonflow portfolio")
    pdf.add_page()  # the footer's height is measured on a page
    pdf.set_auto_page_break(auto=True, margin=pdf.footer_height() + 10)
    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(pdf.epw, 9, "Portfolio result", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    for label, value in header:
        pdf.cell(35, 5, latin1(label))
        pdf.multi_cell(pdf.epw - 35, 5, latin1(value), new_x="LMARGIN", new_y="NEXT")
    if narrative:
        _heading(pdf, "Summary")
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(pdf.epw, 5, latin1(narrative), new_x="LMARGIN", new_y="NEXT")
    if positions:
        _heading(pdf, "Positions")
        _row(pdf, COLUMNS, bold=True)
        for line in positions:
            if pdf.will_page_break(6):  # the table goes on: its header again on the next page
                pdf.add_page()
                _row(pdf, COLUMNS, bold=True)
            _row(pdf, line)
    if metrics:
        _heading(pdf, "Metrics")
        pdf.set_font("Helvetica", "", 9)
        for name, value in metrics:
            pdf.cell(70, 5, latin1(name))
            pdf.multi_cell(pdf.epw - 70, 5, latin1(value), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _heading(pdf: FPDF, text: str) -> None:
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 13)
    pdf.multi_cell(pdf.epw, 7, text, new_x="LMARGIN", new_y="NEXT")


def _row(pdf: FPDF, cells: Sequence[str], *, bold: bool = False) -> None:
    pdf.set_font("Helvetica", "B" if bold else "", 9)
    for index, (text, width) in enumerate(zip(cells, WIDTHS, strict=False)):
        shown = latin1(text)
        while shown and pdf.get_string_width(shown) > width - 1:
            shown = shown[:-1]
        pdf.cell(width, 6, shown, border="B", align="L" if index in (0, 5) else "R")
    pdf.ln(6)
