"""The demo PDFs (questionnaire, claims list, offers) rendered with fpdf2."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from fpdf import FPDF
from fpdf.enums import TableBordersLayout, XPos, YPos

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- PDFs


class _DemoPdf(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=7)
        self.set_text_color(120)
        self.cell(0, 5, f"Fiktive Demodaten – Tenderdesk · Seite {self.page_no()}/{{nb}}",
                  align="C")


def _pdf_safe(text: str) -> str:
    """Core PDF fonts cover Windows-1252 only (umlauts, €, „“ are fine)."""
    return text.encode("cp1252", "replace").decode("cp1252")


def _kv_table(pdf: FPDF, rows: Iterable[tuple[str, str]]) -> None:
    with pdf.table(col_widths=(34, 66), first_row_as_headings=False, text_align="LEFT",
                   borders_layout=TableBordersLayout.HORIZONTAL_LINES, line_height=4.2,
                   padding=0.8) as table:
        for label, value in rows:
            row = table.row()
            row.cell(_pdf_safe(label))
            row.cell(_pdf_safe(value))


def render_pdf(title: str, created_at: datetime, meta: Sequence[tuple[str, str]],
               sections: Mapping[str, Mapping[str, str]]) -> bytes:
    """A small A4 document: a title, a block of request data, then one table per section.

    The creation date is fixed to ``created_at`` so that equal input gives equal bytes.
    """
    pdf = _DemoPdf(format="A4")
    pdf.core_fonts_encoding = "windows-1252"
    pdf.set_creation_date(created_at)
    pdf.set_title(_pdf_safe(title))
    pdf.set_creator("Tenderdesk (Demodaten)")
    pdf.set_margins(18, 15, 18)
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=14)
    pdf.cell(0, 8, _pdf_safe(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    pdf.set_font("Helvetica", size=8.5)
    _kv_table(pdf, meta)
    for heading, rows in sections.items():
        if pdf.will_page_break(16):
            pdf.add_page()  # keep a heading together with its first rows
        pdf.ln(2.5)
        pdf.set_font("Helvetica", style="B", size=10)
        pdf.cell(0, 6, _pdf_safe(heading), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font("Helvetica", size=8.5)
        _kv_table(pdf, rows.items())
    return bytes(pdf.output())

