"""Deckungsnote (cover note): the PDF that documents a binding.

The guide says: "Bei Deckungsbeauftragung wird der gesamte Verlauf des
Chatmoduls der Deckungsnote beigefügt, sodass auch dort getätigte Absprachen
transparent sind." So the note holds the offer terms the broker accepted *and*
every visible chat message of the request (each insurer thread and the broker
thread), with time, author and text: whatever was agreed in a chat is part of
the cover.

Two steps, so each can be tested on its own: :func:`load_cover_note` reads the
database into a plain :class:`CoverNote`, :func:`render_cover_note_pdf` turns
that into PDF bytes without touching the database.

Fonts: fpdf2's core fonts only know latin-1 (umlauts and ß are fine, but not
„“, – or €, and no Japanese or emoji). So we embed Unicode TTFs from Debian's
packages, which ``make run`` and ``make test`` install: DejaVu Sans for the
text, and as fallbacks for glyphs DejaVu lacks Droid Sans Fallback (Chinese,
Japanese, Korean) and Symbola (emoji and symbols, monochrome). A customer's
name in any script reaches the note as typed. Only if no TTF is installed do
we fall back to Helvetica and transliterate what latin-1 lacks, so the PDF is
always produced.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from sqlmodel import Session, col, select

from tenderdesk import formats
from tenderdesk.db.models import (
    Account,
    Binding,
    Broker,
    Document,
    Insurer,
    Message,
    Offer,
    Party,
    Policyholder,
    Product,
    Request,
    Tender,
    Thread,
    ThreadKind,
    User,
)

#: Unicode fonts we embed if one is installed: (regular, bold). First match wins.
FONT_CANDIDATES: tuple[tuple[str, str], ...] = (
    ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    (
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    ),
    ("/usr/share/fonts/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans-Bold.ttf"),
)

#: Fonts for the glyphs the body font lacks, in the order fpdf2 tries them:
#: CJK (Debian fonts-droid-fallback), then emoji and symbols (fonts-symbola).
FALLBACK_FONT_CANDIDATES: tuple[tuple[str, str], ...] = (
    ("CJK", "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
    ("Symbols", "/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf"),
)

#: Replacements for the core-font fallback: typographic characters people type
#: in chats that latin-1 lacks. Anything else outside latin-1 is decomposed
#: (NFKD) or becomes "?".
_LATIN1_FALLBACK = {
    "€": "EUR", "„": '"', "“": '"', "”": '"', "‚": "'", "‘": "'", "’": "'", "–": "-", "—": "-",
    "…": "...", "•": "-", "\u2009": " ", "\u202f": " ", "‐": "-", "‑": "-", "→": "->", "✓": "v",
}


# ------------------------------------------------------------------ formatting
def format_eur(cents: int | None) -> str:
    """``123456`` → ``"1.234,56 €"`` with a plain space (as the pages show it)."""
    return formats.money(cents, "de").replace("\xa0", " ")


# ------------------------------------------------------------------- the data
@dataclass(frozen=True)
class ChatEntry:
    at: datetime
    author: str
    party: Party
    text: str
    attachment: str = ""
    forwarded: bool = False


@dataclass(frozen=True)
class ChatThread:
    title: str
    entries: list[ChatEntry]


@dataclass(frozen=True)
class CoverNote:
    """Everything printed on the note; plain values, no database objects."""

    account_name: str
    request_number: str
    product: str
    trade: str
    policyholder: str
    policyholder_address: str
    broker: str
    broker_company: str
    broker_email: str
    insurer: str
    premium_cents: int
    sum_insured_cents: int | None
    valid_until: datetime
    conditions_note: str
    offer_document: str
    bound_at: datetime
    bound_by: str
    threads: list[ChatThread] = field(default_factory=list)

    @property
    def filename(self) -> str:
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in self.request_number)
        return f"Deckungsnote_{safe}.pdf"

    @property
    def message_count(self) -> int:
        return sum(len(t.entries) for t in self.threads)


def load_cover_note(session: Session, binding_id: int) -> CoverNote:
    """Collect the note's content for one binding. Raises ``LookupError`` if it is gone."""
    binding = session.get(Binding, binding_id)
    if binding is None:
        raise LookupError(f"binding {binding_id} not found")
    request = session.get(Request, binding.request_id)
    offer = session.get(Offer, binding.offer_id)
    tender = session.get(Tender, binding.tender_id)
    assert request is not None and offer is not None and tender is not None
    account = session.get(Account, request.account_id)
    product = session.get(Product, request.product_id)
    holder = session.get(Policyholder, request.policyholder_id)
    broker = session.get(Broker, request.broker_id)
    insurer = session.get(Insurer, tender.insurer_id)
    bound_by = session.get(User, binding.bound_by_id)
    assert account and product and holder and broker and insurer
    document = session.get(Document, offer.document_id) if offer.document_id else None
    holder_name = f"{holder.name} {holder.legal_form}".strip()
    address = ", ".join(p for p in (holder.street, f"{holder.postcode} {holder.city}".strip()) if p)
    return CoverNote(
        account_name=account.name,
        request_number=request.number,
        product=product.name,
        trade=request.trade,
        policyholder=holder_name,
        policyholder_address=address,
        broker=broker.name,
        broker_company=broker.company,
        broker_email=broker.email,
        insurer=insurer.name,
        premium_cents=offer.premium_cents,
        sum_insured_cents=offer.sum_insured_cents,
        valid_until=offer.valid_until,
        conditions_note=offer.conditions_note,
        offer_document=document.filename if document else "",
        bound_at=binding.created_at,
        bound_by=bound_by.name if bound_by else broker.name,
        threads=_chat_threads(session, request.id, binding.tender_id, broker),  # type: ignore[arg-type]
    )


def _chat_threads(session: Session, request_id: int, winner_tender_id: int, broker: Broker) -> list[ChatThread]:
    """Every thread with at least one visible message: the broker chat first, then
    the chosen insurer, then the other insurers by name."""
    threads = session.exec(select(Thread).where(Thread.request_id == request_id)).all()
    users: dict[int, User | None] = {}
    result: list[tuple[tuple[int, str, int], ChatThread]] = []
    for thread in threads:
        messages = session.exec(
            select(Message)
            .where(Message.thread_id == thread.id)
            .where(col(Message.visible).is_(True))
            .order_by(col(Message.created_at), col(Message.id))
        ).all()
        if not messages:
            continue
        insurer_name = ""
        if thread.kind == ThreadKind.INSURER and thread.tender_id is not None:
            tender = session.get(Tender, thread.tender_id)
            insurer = session.get(Insurer, tender.insurer_id) if tender else None
            insurer_name = insurer.name if insurer else "Gesellschaft"
            title = f"Chat mit {insurer_name}"
            rank = 1 if thread.tender_id == winner_tender_id else 2
        else:
            title = f"Chat mit dem Vermittler ({broker.name})"
            rank = 0
        entries = []
        for message in messages:
            if message.author_user_id is not None and message.author_user_id not in users:
                users[message.author_user_id] = session.get(User, message.author_user_id)
            user = users.get(message.author_user_id) if message.author_user_id is not None else None
            document = session.get(Document, message.document_id) if message.document_id else None
            entries.append(
                ChatEntry(
                    at=message.created_at,
                    author=_author(message.author, user, insurer_name, broker),
                    party=message.author,
                    text=message.body,
                    attachment=document.filename if document else "",
                    forwarded=message.forwarded_from_id is not None,
                )
            )
        result.append(((rank, title, thread.id or 0), ChatThread(title=title, entries=entries)))
    return [thread for _, thread in sorted(result, key=lambda pair: pair[0])]


def _author(party: Party, user: User | None, insurer_name: str, broker: Broker) -> str:
    if party == Party.INSURER:
        return f"Gesellschaft ({insurer_name})" if insurer_name else "Gesellschaft"
    if party == Party.BACKOFFICE:
        return f"Backoffice ({user.name})" if user else "Backoffice"
    if party == Party.BROKER:
        return f"Vermittler ({user.name if user else broker.name})"
    return "System"


# ------------------------------------------------------------------ rendering
@lru_cache(maxsize=1)
def unicode_font() -> tuple[str, str] | None:
    """The first installed (regular, bold) TTF pair, or None for the latin-1 fallback."""
    for regular, bold in FONT_CANDIDATES:
        if Path(regular).is_file() and Path(bold).is_file():
            return regular, bold
    return None


@lru_cache(maxsize=1)
def fallback_fonts() -> tuple[tuple[str, str], ...]:
    """The installed fallback fonts as (family, path)."""
    return tuple((family, path) for family, path in FALLBACK_FONT_CANDIDATES if Path(path).is_file())


def latin1_safe(text: str) -> str:
    """Keep latin-1 (umlauts, ß) as is; replace only what the core fonts cannot show."""
    out = []
    for char in text:
        if ord(char) < 256:
            out.append(char)
        elif char in _LATIN1_FALLBACK:
            out.append(_LATIN1_FALLBACK[char])
        else:
            decomposed = unicodedata.normalize("NFKD", char)
            kept = "".join(c for c in decomposed if ord(c) < 256 and not unicodedata.combining(c))
            out.append(kept or "?")
    return "".join(out)


class BrandedPdf(FPDF):
    """A4 with the Debian Unicode fonts embedded (and their fallbacks) and a
    page footer; the Deckungsnote and the Angebotsvergleich share it."""

    def __init__(self, footer_label: str, font: tuple[str, str] | None, orientation: str = "portrait") -> None:
        super().__init__(orientation=orientation, unit="mm", format="A4")
        self._footer_label = footer_label
        self._fallback_cmaps: list[Mapping[int, object]] = []
        if font is not None:
            self.add_font("Body", "", font[0])
            self.add_font("Body", "B", font[1])
            self.body_font = "Body"
            families = []
            for family, path in fallback_fonts():
                self.add_font(family, "", path)
                families.append(family)
                self._fallback_cmaps.append(getattr(self.fonts[family.lower()], "cmap", {}))
            if families:
                # Bold text falls back to the regular face: these fonts have no bold.
                self.set_fallback_fonts(families, exact_match=False)
        else:
            self.body_font = "Helvetica"
        self._unicode = font is not None

    def text_of(self, text: str) -> str:
        """Text the current font can draw: glyphs missing from the TTF and
        non-latin-1 characters for the core font are replaced, never dropped."""
        if not self._unicode:
            return latin1_safe(text)
        cmap = getattr(self.current_font, "cmap", None)
        if not cmap:
            return text
        return "".join(
            c if c in "\n\r\t" or self._drawable(ord(c), cmap) else (_LATIN1_FALLBACK.get(c) or "?") for c in text
        )

    def _drawable(self, code: int, cmap: Mapping[int, object]) -> bool:
        return code in cmap or any(code in fallback for fallback in self._fallback_cmaps)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(self.body_font, "", 8)
        self.set_text_color(110, 110, 110)
        self.cell(0, 5, self.text_of(f"{self._footer_label} {self.page_no()}/{{nb}}"), align="C")
        self.set_text_color(0, 0, 0)


def render_cover_note_pdf(note: CoverNote, *, font: tuple[str, str] | None | Literal["auto"] = "auto") -> bytes:
    """The note as PDF bytes. ``"auto"`` embeds an installed Unicode TTF if there
    is one; ``None`` forces the latin-1 core-font fallback; or pass (regular, bold) paths."""
    pdf = BrandedPdf(f"Deckungsnote {note.request_number} – Seite", unicode_font() if font == "auto" else font)
    pdf.set_title(f"Deckungsnote {note.request_number}")
    pdf.set_author(note.account_name)
    pdf.set_creator("Tenderdesk")
    pdf.set_creation_date(note.bound_at)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(18, 18, 18)
    pdf.add_page()

    def heading(text: str, size: float = 12) -> None:
        pdf.set_font(pdf.body_font, "B", size)
        pdf.multi_cell(0, size * 0.55, pdf.text_of(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1.5)

    def row(label: str, value: str) -> None:
        pdf.set_font(pdf.body_font, "B", 9.5)
        pdf.cell(52, 5.5, pdf.text_of(label))
        pdf.set_font(pdf.body_font, "", 9.5)
        pdf.multi_cell(0, 5.5, pdf.text_of(value or "—"), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def paragraph(text: str, size: float = 9.5) -> None:
        pdf.set_font(pdf.body_font, "", size)
        pdf.multi_cell(0, size * 0.52, pdf.text_of(text), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    heading("Deckungsnote", 18)
    paragraph(f"Anfrage {note.request_number} · {note.product} · {note.trade}", 10.5)
    pdf.ln(4)

    heading("Abschluss")
    row("Abgeschlossen am", f"{formats.moment(note.bound_at)} Uhr")
    row("Abgeschlossen durch", note.bound_by)
    row("Versicherer", note.insurer)
    pdf.ln(3)

    heading("Beteiligte")
    row("Versicherungsnehmer", note.policyholder)
    if note.policyholder_address:
        row("Anschrift", note.policyholder_address)
    row("Vermittler", f"{note.broker}, {note.broker_company}")
    row("E-Mail Vermittler", note.broker_email)
    row("Gewerbe", note.trade)
    row("Produkt", note.product)
    pdf.ln(3)

    heading("Angebotskonditionen")
    row("Jahresprämie", format_eur(note.premium_cents))
    row("Versicherungssumme", format_eur(note.sum_insured_cents))
    row("Angebot gültig bis", formats.day(note.valid_until))
    row("Bedingungen / Hinweise", note.conditions_note)
    if note.offer_document:
        row("Angebotsdokument", note.offer_document)
    pdf.ln(3)
    paragraph(
        f"Der Vermittler hat auf Basis des oben genannten Angebots Deckung beauftragt. "
        f"{note.insurer} wurde über den Deckungsauftrag informiert."
    )

    pdf.add_page()
    heading("Nachrichtenverlauf", 14)
    paragraph(
        "Der gesamte Verlauf des Nachrichtenmoduls zu dieser Anfrage, damit dort getroffene "
        "Absprachen transparent sind. Zeiten in deutscher Zeit (Europe/Berlin)."
    )
    pdf.ln(3)
    if not note.threads:
        paragraph("Zu dieser Anfrage wurden keine Nachrichten ausgetauscht.")
    for thread in note.threads:
        heading(thread.title, 11)
        for entry in thread.entries:
            pdf.set_font(pdf.body_font, "B", 9)
            label = f"{formats.moment(entry.at)} · {entry.author}"
            if entry.forwarded:
                label += " · weitergeleitet"
            pdf.multi_cell(0, 4.8, pdf.text_of(label), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            paragraph(entry.text, 9.5)
            if entry.attachment:
                paragraph(f"Anhang: {entry.attachment}", 8.5)
            pdf.ln(2.5)
        pdf.ln(2)
    return bytes(pdf.output())


__all__ = [
    "BrandedPdf", "ChatEntry", "ChatThread", "CoverNote", "format_eur",
    "latin1_safe", "load_cover_note", "render_cover_note_pdf", "unicode_font",
]
