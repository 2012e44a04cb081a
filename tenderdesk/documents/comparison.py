"""The Angebotsvergleich as PDF: the table the broker hands the policyholder.

The caller (``web.offers.comparison``) decides the rows, words them in the
reader's language and marks the best value per row; this module only lays
the table out: one column per insurer (landscape from four offers on), the
best value bold on a green ground, rows where the offers differ marked with a
bar, rows where all agree in grey. Fonts as in the Deckungsnote, so every
name prints as typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from tenderdesk.documents.cover_note import BrandedPdf, unicode_font

BEST_FILL = (223, 243, 228)
DIFF_FILL = (255, 248, 225)
HEAD_FILL = (236, 240, 245)
SAME_TEXT = (110, 110, 110)


@dataclass
class TableRow:
    label: str
    cells: list[str]
    best: list[bool]
    differs: bool


@dataclass
class ComparisonTable:
    title: str
    subtitle: str
    note: str
    footer: str
    headers: list[str]
    rows: list[TableRow]


def render_comparison_pdf(table: ComparisonTable, *, created: datetime,
                          font: tuple[str, str] | None | Literal["auto"] = "auto") -> bytes:
    landscape = len(table.headers) > 3
    pdf = BrandedPdf(table.footer, unicode_font() if font == "auto" else font,
                     orientation="landscape" if landscape else "portrait")
    pdf.set_title(table.title)
    pdf.set_creator("Tenderdesk")
    pdf.set_creation_date(created)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(14, 14, 14)
    pdf.add_page()
    pdf.set_font(pdf.body_font, "B", 16)
    pdf.multi_cell(0, 8, pdf.text_of(table.title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(pdf.body_font, "", 10)
    pdf.multi_cell(0, 5.5, pdf.text_of(table.subtitle), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)

    label_width = 50.0
    width = pdf.epw - label_width
    columns = (label_width, *([width / len(table.headers)] * len(table.headers)))
    pdf.set_font(pdf.body_font, "", 9)
    heading = FontFace(emphasis="BOLD", fill_color=HEAD_FILL)
    with pdf.table(col_widths=columns, text_align="LEFT", line_height=5, first_row_as_headings=True,
                   headings_style=heading, padding=1.6) as grid:
        head = grid.row()
        head.cell("")
        for name in table.headers:
            head.cell(pdf.text_of(name))
        for row in table.rows:
            line = grid.row()
            label_style = FontFace(emphasis="BOLD", fill_color=DIFF_FILL if row.differs else None,
                                   color=None if row.differs else SAME_TEXT)
            line.cell(pdf.text_of(row.label), style=label_style)
            for text, best in zip(row.cells, row.best, strict=True):
                if best:
                    style = FontFace(emphasis="BOLD", fill_color=BEST_FILL)
                elif not row.differs:
                    style = FontFace(color=SAME_TEXT)
                else:
                    style = None
                line.cell(pdf.text_of(("✓ " if best else "") + text), style=style)
    pdf.ln(4)
    pdf.set_font(pdf.body_font, "", 8.5)
    pdf.multi_cell(0, 4.5, pdf.text_of(table.note), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())


__all__ = ["ComparisonTable", "TableRow", "render_comparison_pdf"]
