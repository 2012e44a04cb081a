"""An English user sees no German: the main pages rendered in English, checked
against the German catalogue and a list of German words.

Two nets. The catalogue: every German text of ``web/locale/de`` (template
msgids, key texts) that differs from its English translation must not appear.
The words: visible text must not hold German function words or umlauts,
except in words that come from the data (names, trades, message bodies,
questionnaire answers): that is content, not UI, and stays as people wrote it.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import httpx
from babel.messages.pofile import read_po
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import Insurer, InsurerContact, Offer, Party, Request, RequestStatus, Tender, User, utcnow
from tenderdesk.states import TenderStatus
from web.core import i18n

from .conftest import MAIN_BACKOFFICE, logged_in, main_account_id, make_linked_tender

#: German words no English page may show outside data (lower case).
GERMAN_WORDS = frozenset("""
    und oder nicht bitte der die das dem den des ist sind wurde wurden werden wird sie ihre ihr mit für
    von zur zum bei noch keine kein nur auch aus über einen eine einer anfrage anfragen ausschreibung
    ausschreibungen angebot angebote gesellschaft vermittler bearbeiter nachricht nachrichten frist
    erinnerung dokumente unterlagen abschluss freigabe prämie gültig bis zurück speichern abbrechen
    senden hochladen anmelden abmelden
""".split())  # noqa: SIM905
UMLAUT = re.compile(r"[äöüÄÖÜß]")
WORD = re.compile(r"[A-Za-zÄÖÜäöüß]+")
FIELD = re.compile(r"%\(\w+\)[sd]|\{\w+\}")


class _Text(HTMLParser):
    """Visible text: text nodes and the attributes people read (title, placeholder, ...)."""

    READ_ATTRS = frozenset({"title", "placeholder", "aria-label", "alt"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if value and (name in self.READ_ATTRS or (tag == "input" and name == "value" and
                                                      ("type", "submit") in attrs)):
                self.parts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip and data.strip():
            self.parts.append(" ".join(data.split()))


def visible_text(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.parts


def _german_fragments() -> list[str]:
    """German catalogue texts whose English differs, split at their fields;
    only fragments long enough not to be a name or a number."""
    with i18n.catalogue_path("de").open("rb") as po:
        german = read_po(po, locale="de")
    english = i18n.translations("en")
    fragments: set[str] = set()
    for message in german:
        if not message.id:
            continue
        msgid = message.id if isinstance(message.id, str) else message.id[0]
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        text = str(strings[0] if strings else "") or msgid
        if english.gettext(msgid) == text:
            continue  # the same in both languages ("Status", "Backoffice")
        for piece in FIELD.split(text):
            piece = piece.strip(" .,:;()–-„“\"")
            if len(piece) >= 12 and " " in piece:
                fragments.add(piece)
    return sorted(fragments, key=len, reverse=True)


GERMAN_FRAGMENTS = _german_fragments()


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
        if value[:1] in "[{":
            with contextlib.suppress(ValueError):
                yield from _strings(json.loads(value))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def data_words(engine: Engine) -> set[str]:
    """Every word stored in the database: content, which keeps its language."""
    words: set[str] = set()
    with Session(engine) as s:
        for table in SQLModel.metadata.sorted_tables:
            for row in s.connection().execute(table.select()):
                for value in row:
                    for text in _strings(value):
                        words.update(w.lower() for w in WORD.findall(text))
    return words


def german_on(html: str, allowed: set[str]) -> list[str]:
    found = []
    for part in visible_text(html):
        for fragment in GERMAN_FRAGMENTS:
            if fragment in part:
                found.append(f"catalogue: {fragment!r} in {part!r}")
        for word in WORD.findall(part):
            lower = word.lower()
            if lower in allowed:
                continue
            if lower in GERMAN_WORDS or UMLAUT.search(word):
                found.append(f"word: {word!r} in {part!r}")
    return found


def _english(engine: Engine, *emails: str) -> None:
    with session_scope(engine) as s:
        for user in s.exec(select(User).where(col(User.email).in_(emails))):
            user.locale = "en"
            s.add(user)


def _english_insurer_request(engine: Engine) -> tuple[Request, int]:
    """An open request whose product an English-speaking demo insurer covers, and that insurer's skip."""
    with Session(engine) as s:
        contact = s.exec(select(InsurerContact).where(InsurerContact.locale == "en")).first()
        assert contact is not None, "the demo data has no English insurer contact"
        request = s.exec(
            select(Request).where(Request.product_id == contact.product_id)
            .where(Request.account_id == main_account_id(engine))
            .where(Request.status == RequestStatus.OPEN).order_by(Request.id)  # type: ignore[arg-type]
        ).first()
        assert request is not None
        insurers = s.exec(
            select(Insurer.id).join(InsurerContact, InsurerContact.insurer_id == Insurer.id)  # type: ignore[arg-type]
            .where(InsurerContact.product_id == request.product_id).where(Insurer.reachable == True)  # noqa: E712
            .order_by(Insurer.id)  # type: ignore[arg-type]
        ).all()
        return request, list(insurers).index(contact.insurer_id)


def _add_offer(engine: Engine, tender_id: int) -> int:
    """An accepted, released offer on ``tender_id``, as the projection would have written it."""
    with session_scope(engine) as s:
        tender = s.get(Tender, tender_id)
        assert tender is not None
        offer = Offer(tender_id=tender_id, request_id=tender.request_id, action_id=f"english-{tender_id}",
                      premium_cents=123_456, valid_until=utcnow() + timedelta(days=60), submitted_by=Party.INSURER,
                      conditions_note="Selbstbehalt 500 EUR", active=True, released_at=utcnow())
        s.add(offer)
        s.flush()
        tender.status = TenderStatus.OFFERED
        tender.current_offer_id = offer.id
        s.add(tender)
        assert offer.id is not None
        return offer.id


async def test_english_pages_show_no_german(http: httpx.AsyncClient, web_engine: Engine) -> None:
    _english(web_engine, MAIN_BACKOFFICE)
    request, skip = _english_insurer_request(web_engine)
    others = [i for i in range(3) if i != skip]
    english_link = make_linked_tender(web_engine, request, insurer_skip=skip, opened=True)
    offered = make_linked_tender(web_engine, request, insurer_skip=others[0], opened=True)
    offer_id = _add_offer(web_engine, offered.tender_id)
    allowed = data_words(web_engine)
    rid, tid = request.id, offered.tender_id
    pages: dict[str, httpx.Response] = {}
    await logged_in(http, MAIN_BACKOFFICE)
    for path in (
        "/", "/?tab=alle", f"/requests/{rid}", f"/requests/{rid}/tenders/new",
        f"/requests/{rid}/offers/{offer_id}/edit", f"/requests/{rid}/offers/{offer_id}/bind",
        f"/requests/{rid}/tenders/{english_link.tender_id}/schedule",
        f"/requests/{rid}/tenders/{english_link.tender_id}/offer",
        f"/requests/{rid}/tenders/{tid}/insurer-view", "/password", "/kontakt", "/requests/999999", "/?page=x",
    ):
        pages[f"backoffice {path}"] = await http.get(path)
    http.cookies.clear()
    if request.broker_id is not None:
        with Session(web_engine) as s:
            broker = s.exec(select(User).where(User.broker_id == request.broker_id)).first()
        if broker is not None:
            _english(web_engine, broker.email)
            await logged_in(http, broker.email)
            pages["broker /"] = await http.get("/")
            pages[f"broker /requests/{rid}"] = await http.get(f"/requests/{rid}")
            pages[f"broker bind {offer_id}"] = await http.get(f"/requests/{rid}/offers/{offer_id}/bind")
            http.cookies.clear()

    pages["insurer link"] = await http.get(f"/t/{english_link.token}")
    with session_scope(web_engine) as s:
        tender = s.get(Tender, english_link.tender_id)
        assert tender is not None
        tender.status = TenderStatus.DECLINED
        s.add(tender)
    pages["insurer link, ended"] = await http.get(f"/t/{english_link.token}")

    wizard = pages[f"backoffice /requests/{rid}/tenders/new"].text
    assert '<span lang="en">(English)</span>' in wizard  # the contact's language beside its address
    problems = []
    for name, response in pages.items():
        assert response.status_code < 500, name
        assert "<html" in response.text, name
        problems += [f"{name}: {found}" for found in german_on(response.text, allowed)]
    assert not problems, "German on English pages:\n" + "\n".join(problems)


def test_the_check_sees_german() -> None:
    """The nets catch a German sentence, a German word and an umlaut, and let data words pass."""
    html = (f"<p>{i18n.t('error.request_not_found', 'de')}</p><p title='Bitte wählen'>x</p>"
            "<script>var und = 1;</script><p>Müller GmbH</p>")
    found = german_on(html, {"müller", "gmbh"})
    assert any("catalogue" in f for f in found)
    assert any("'Bitte'" in f for f in found) and any("'wählen'" in f for f in found)
    assert not any("'Müller'" in f or "'und'" in f or "'GmbH'" in f for f in found)
    assert german_on(f"<p>{i18n.t('error.request_not_found', 'en')}</p>", set()) == []
