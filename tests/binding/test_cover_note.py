"""The cover note: offer terms and the whole chat history, parsed back with pypdf."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from io import BytesIO

import pytest
from pypdf import PdfReader
from sqlmodel import Session, select

from activities.binding import BindingActivities
from tenderdesk import formats
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    AuditEvent,
    Binding,
    Document,
    DocumentKind,
    Message,
    Party,
    Thread,
    ThreadKind,
)
from tenderdesk.documents.cover_note import (
    ChatEntry,
    ChatThread,
    CoverNote,
    fallback_fonts,
    latin1_safe,
    render_cover_note_pdf,
    unicode_font,
)
from tenderdesk.documents.storage import open_path
from tenderdesk.ids import binding_workflow_id
from web.core.forms import new_action_id
from web.offers.binding import bind_offer, resume_binding
from web.offers.release import release_offers
from web.tenders.service import ask_question, insurer_thread

from ..conftest import Running
from ..factories import make_world
from .helpers import backoffice, binding_result, broker_user, emails, give_offer, sent_tenders


def pdf_text(data: bytes) -> str:
    """All text of the PDF with whitespace collapsed (lines wrap anywhere)."""
    reader = PdfReader(BytesIO(data))
    return " ".join(" ".join(page.extract_text() or "" for page in reader.pages).split())


def _message(engine: object, thread_id: int, request_id: int, author: Party, body: str,
             user_id: int | None = None, visible: bool = True) -> None:
    """A chat message as the web layer writes it for chats that need no workflow."""
    with session_scope(engine) as s:  # type: ignore[arg-type]
        s.add(Message(thread_id=thread_id, request_id=request_id, action_id=new_action_id(), author=author,
                      author_user_id=user_id, body=body, visible=visible))


async def test_cover_note_holds_offer_terms_and_every_chat_message(bts: Running) -> None:
    world = make_world(bts.engine)
    winner, other = await sent_tenders(bts, world, 2)
    erika = broker_user(bts.engine, world)
    # Insurer threads: questions go through the workflow, replies are written directly.
    await ask_question(bts.client, bts.engine, winner, body="Gibt es Vorschäden in den letzten fünf Jahren?")
    await ask_question(bts.client, bts.engine, other, body="Welche Deckungssumme wünscht der Kunde?")
    with session_scope(bts.engine) as s:
        winner_thread = insurer_thread(s, winner).id
        broker_thread = Thread(request_id=world.request_id, kind=ThreadKind.BROKER,
                               opened_by_id=world.backoffice_user_id)
        s.add(broker_thread)
        s.flush()
        broker_thread_id = broker_thread.id
    assert winner_thread is not None and broker_thread_id is not None
    _message(bts.engine, winner_thread, world.request_id, Party.BACKOFFICE,
             "Keine Vorschäden laut Vermittler; Sprinkleranlage ist vorhanden.", world.backoffice_user_id)
    _message(bts.engine, broker_thread_id, world.request_id, Party.BACKOFFICE,
             "Die Gesellschaft fragt nach Vorschäden – gab es welche?", world.backoffice_user_id)
    _message(bts.engine, broker_thread_id, world.request_id, Party.BROKER,
             "Nein, keine Vorschäden. Grüße aus Köln 😊", erika.id)
    _message(bts.engine, broker_thread_id, world.request_id, Party.BACKOFFICE,
             "ENTWURF nicht sichtbar", world.backoffice_user_id, visible=False)

    offer = await give_offer(bts, winner, premium_cents=123_456, sum_insured_cents=300_000_000,
                             conditions_note="Selbstbeteiligung 500 € je Schaden; Vorsorgeversicherung 10 %")
    await release_offers(engine=bts.engine, client=bts.client, settings=bts.settings, offer_ids=[offer.id],  # type: ignore[list-item]
                         user=backoffice(bts.engine, world))
    outcome = await bind_offer(engine=bts.engine, client=bts.client, settings=bts.settings,
                               offer_id=offer.id, broker_user=erika)  # type: ignore[arg-type]
    result = await binding_result(bts, world.request_id)

    with Session(bts.engine) as s:
        document = s.get(Document, result.cover_note_document_id)
        assert document is not None
        assert document.kind == DocumentKind.COVER_NOTE and document.uploaded_by == Party.SYSTEM
        assert document.tender_id is None  # not shown on the winning insurer's link page
        assert document.filename == "Deckungsnote_MA-TEST-00001.pdf"
        assert s.get(Binding, outcome.binding_id).cover_note_document_id == document.id  # type: ignore[union-attr]
    data = open_path(bts.settings, document.storage_key).read_bytes()
    assert len(data) == document.size_bytes
    text = pdf_text(data)

    for expected in (
        "Deckungsnote", "MA-TEST-00001", "Betriebshaftpflicht", "Elektroinstallateur", "Elektro Blitz GmbH",
        "Erika Muster, Muster Makler GmbH", "Versicherer Testversicherung 0 AG",
        "Jahresprämie 1.234,56 €", "Versicherungssumme 3.000.000,00 €",
        f"Angebot gültig bis {formats.day(offer.valid_until)}",
        "Selbstbeteiligung 500 € je Schaden; Vorsorgeversicherung 10 %",
        "Nachrichtenverlauf",
        "Chat mit dem Vermittler (Erika Muster)", "Chat mit Testversicherung 0 AG", "Chat mit Testversicherung 1 AG",
        "Gesellschaft (Testversicherung 0 AG)", "Gibt es Vorschäden in den letzten fünf Jahren?",
        "Backoffice (Bea Backoffice)", "Keine Vorschäden laut Vermittler; Sprinkleranlage ist vorhanden.",
        "Die Gesellschaft fragt nach Vorschäden – gab es welche?",
        "Vermittler (Erika Muster)", "Nein, keine Vorschäden. Grüße aus Köln",
        "Gesellschaft (Testversicherung 1 AG)", "Welche Deckungssumme wünscht der Kunde?",
    ):
        assert expected in text, expected
    assert "ENTWURF" not in text
    # The broker's chat comes first, then the chosen insurer, then the others.
    assert text.index("Chat mit dem Vermittler") < text.index("Chat mit Testversicherung 0 AG") < text.index(
        "Chat mit Testversicherung 1 AG")

    # Idempotent: another attempt returns the same document, and a second
    # start of the workflow does not run it again.
    activities = BindingActivities(bts.engine, bts.settings)
    assert activities._cover_note(outcome.binding_id) == document.id
    handle = bts.client.get_workflow_handle(binding_workflow_id(world.request_id, bts.settings.workflow_id_prefix))
    run_id = (await handle.describe()).run_id
    assert await resume_binding(engine=bts.engine, client=bts.client, settings=bts.settings,
                                request_id=world.request_id)
    assert (await handle.describe()).run_id == run_id
    with Session(bts.engine) as s:
        assert len(s.exec(select(Document).where(Document.kind == DocumentKind.COVER_NOTE)).all()) == 1
        kinds = [e.kind for e in s.exec(select(AuditEvent))]
        assert kinds.count("cover_note_created") == 1
    assert [e.kind for e in emails(bts.engine) if e.tender_id is None] == ["offers_released", "bound_broker"]


NOTE = CoverNote(
    account_name="Testpool", request_number="MA-2025-00042", product="Inhaltsversicherung", trade="Bäckerei",
    policyholder="Bäckerei Süß GmbH", policyholder_address="Hauptstraße 1, 50667 Köln", broker="Jörg Öztürk",
    broker_company="Öztürk & Söhne Makler", broker_email="joerg@makler.example", insurer="Größte Versicherung AG",
    premium_cents=98_765, sum_insured_cents=None, valid_until=datetime(2030, 3, 31, 21, 59, tzinfo=UTC),
    conditions_note="„Allgefahren“ – inkl. Glasbruch…", offer_document="angebot.pdf",
    bound_at=datetime(2030, 1, 15, 9, 30, tzinfo=UTC), bound_by="Jörg Öztürk",
    threads=[ChatThread("Chat mit Größte Versicherung AG", [
        ChatEntry(datetime(2030, 1, 10, 8, 0, tzinfo=UTC), "Gesellschaft (Größte Versicherung AG)", Party.INSURER,
                  "Wie groß ist die Verkaufsfläche? 🥐 " + "Sehr lange Nachricht. " * 60, attachment="grundriss.pdf"),
    ])],
)


@pytest.mark.parametrize("font", ["auto", None], ids=["unicode-ttf", "core-latin1"])
def test_umlauts_survive_with_either_font(font: str | None) -> None:
    if font == "auto" and unicode_font() is None:
        pytest.skip("no Unicode TTF installed; the core-font fallback is tested below")
    text = pdf_text(render_cover_note_pdf(NOTE, font=font))  # type: ignore[arg-type]
    for expected in ("Bäckerei Süß GmbH", "Hauptstraße 1, 50667 Köln", "Jörg Öztürk", "Größte Versicherung AG",
                     "Jahresprämie 987,65", "Versicherungssumme —" if font else "Versicherungssumme",
                     "Angebot gültig bis 31.03.2030", "Abgeschlossen am 15.01.2030 10:30 Uhr",
                     "10.01.2030 09:00 · Gesellschaft (Größte Versicherung AG)",
                     "Wie groß ist die Verkaufsfläche?", "Anhang: grundriss.pdf", "Seite 2/"):
        assert expected in text, expected
    assert text.count("Sehr lange Nachricht.") == 60
    if font is None:
        assert "\"Allgefahren\" - inkl. Glasbruch..." in text and "987,65 EUR" in text
    else:
        assert "„Allgefahren“ – inkl. Glasbruch…" in text and "987,65 €" in text


def test_text_outside_latin1_reaches_the_note_as_typed() -> None:
    """Japanese and emoji in a name and a chat come out as typed: DejaVu draws
    the text, Droid Sans Fallback and Symbola the glyphs it lacks (``make test``
    installs all three from Debian's packages, as ``make run`` does)."""
    assert unicode_font() is not None and len(fallback_fonts()) == 2, "make test installs the fonts"
    note = replace(NOTE, policyholder="日本語 🚀 Handel GmbH", threads=[ChatThread("Chat", [
        ChatEntry(datetime(2030, 1, 10, 8, 0, tzinfo=UTC), "Gesellschaft", Party.INSURER, "Ελληνικά, русский, 中文 ✈ 🥐"),  # noqa: E501
    ])])
    text = pdf_text(render_cover_note_pdf(note))
    assert "日本語 🚀 Handel GmbH" in text
    assert "Ελληνικά, русский, 中文 ✈ 🥐" in text
    assert "?" not in text.replace("Wie groß", "")


def test_latin1_fallback_keeps_umlauts_and_replaces_the_rest() -> None:
    assert latin1_safe("Prämie 5 € – „Öl“ ß") == 'Prämie 5 EUR - "Öl" ß'
    assert latin1_safe("Café ﬁ 😊") == "Café fi ?"
