"""Auswertung and the ★ order, over HTTP on the seeded app: each account sees
its own figures, a broker none; the charts are SVG images without script; the
wizard lists an insurer whose figures speak for it as recommended and says why."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import Insurer, InsurerContact, Recommendation, Request, utcnow
from tenderdesk.states import TenderStatus

from ..factories import add_answered_tender
from .conftest import (
    BROKER_USER,
    MAIN_BACKOFFICE,
    SECOND_ACCOUNT_USER,
    client_for,
    first_request,
    logged_in,
    user_by_email,
)

REASON = "Kapazität für Elektrohandwerk erschöpft"


def _insurer(engine: Engine, name: str, product_id: int) -> int:
    with session_scope(engine) as s:
        insurer = Insurer(name=name, short_name=name[:6])
        s.add(insurer)
        s.flush()
        s.add(InsurerContact(insurer_id=insurer.id, product_id=product_id, email="ausschreibung@neu.example"))  # type: ignore[arg-type]
        return insurer.id  # type: ignore[return-value]


def _history(engine: Engine, request: Request, insurer_id: int, bound_by: int) -> None:
    """Three tenders of the request's account and product: two offers (one bound), one decline."""
    sent = utcnow() - timedelta(days=20)
    with Session(engine) as s:
        others = s.exec(select(Request).where(Request.account_id == request.account_id)
                        .where(Request.product_id == request.product_id).where(col(Request.id) != request.id)).all()
    targets = [request, *others][:3]
    add_answered_tender(engine, targets[0].id, insurer_id, sent_at=sent, status=TenderStatus.CLOSED,  # type: ignore[arg-type]
                        premium_cents=150_000, offered_after=timedelta(days=2), bound_by=bound_by)
    add_answered_tender(engine, targets[-1].id, insurer_id, sent_at=sent, status=TenderStatus.OFFERED,  # type: ignore[arg-type]
                        premium_cents=180_000, offered_after=timedelta(days=3))
    add_answered_tender(engine, targets[1 % len(targets)].id, insurer_id, sent_at=sent,  # type: ignore[arg-type]
                        status=TenderStatus.DECLINED, decline_reason=REASON)


async def test_backoffice_sees_its_figures_with_charts_and_tables(http: httpx.AsyncClient, web_engine: Engine) -> None:
    request = first_request(web_engine)
    boss = user_by_email(web_engine, MAIN_BACKOFFICE)
    insurer_id = _insurer(web_engine, "Elbtal Versicherung AG", request.product_id)
    _history(web_engine, request, insurer_id, boss.id)  # type: ignore[arg-type]

    await logged_in(http, MAIN_BACKOFFICE)
    page = await http.get("/auswertung")
    assert page.status_code == 200
    text = page.text
    assert "Auswertung Gesellschaften" in text and "Elbtal Versicherung AG" in text
    row = re.search(r'<th scope="row">Elbtal Versicherung AG</th>(.*?)</tr>', text, re.S)
    assert row, text[:500]
    cells = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row.group(1))).strip()
    # 3 sent · all 3 answered · median 2,5 days to offer · 1 of 3 declined · 1 bound of 2 offers
    assert cells.startswith("3 100 % (3) 2,5 33 % (1) 50 % (1 / 2)"), cells
    assert REASON in text
    charts = re.findall(r'<img src="(/auswertung/diagramm/[a-z]+\.svg\?[^"]+)"', text)
    assert len(charts) == 4
    svg = await http.get(charts[0].replace("&amp;", "&"))
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    assert b"<script" not in svg.content and b"Elbtal Versicherung AG" in svg.content
    assert "script-src" not in svg.headers["content-security-policy"]

    # Filters: the last 90 days still hold these tenders; unknown values are refused.
    assert "Elbtal Versicherung AG" in (await http.get(f"/auswertung?zeitraum=90&produkt={request.product_id}")).text
    for bad in ("/auswertung?zeitraum=7", "/auswertung?produkt=999999", "/auswertung/diagramm/unbekannt.svg"):
        refused = await http.get(bad)
        assert refused.status_code == 404 and "Elbtal" not in refused.text, bad

    # The wizard: the insurer is not starred, but its figures recommend it, and it says why.
    wizard = (await http.get(f"/requests/{request.id}/tenders/new")).text
    recommended = wizard.split("Empfohlene Versicherer", 1)[1].split('class="insurer-group"', 1)[0]
    assert "Elbtal Versicherung AG" in recommended
    assert "antwortete auf 3 von 3 Ausschreibungen" in wizard
    assert "1 von 2 Angeboten abgeschlossen" in wizard


async def test_figures_stay_in_their_account_and_brokers_see_none(
    http: httpx.AsyncClient, web_app: FastAPI, web_engine: Engine
) -> None:
    request = first_request(web_engine)
    insurer_id = _insurer(web_engine, "Nur-Hauptkonto Versicherung AG", request.product_id)
    _history(web_engine, request, insurer_id, user_by_email(web_engine, MAIN_BACKOFFICE).id)  # type: ignore[arg-type]

    await logged_in(http, SECOND_ACCOUNT_USER)
    page = await http.get("/auswertung")
    assert page.status_code == 200 and "Nur-Hauptkonto Versicherung AG" not in page.text
    svg = await http.get("/auswertung/diagramm/antwortquote.svg")
    assert b"Nur-Hauptkonto" not in svg.content

    async with client_for(web_app) as broker:
        await logged_in(broker, BROKER_USER)
        assert (await broker.get("/auswertung")).status_code in (403, 404)
        assert (await broker.get("/auswertung/diagramm/antwortquote.svg")).status_code in (403, 404)
        assert 'href="/auswertung"' not in (await broker.get("/")).text


async def test_a_starred_insurer_without_history_says_it_was_starred(
    http: httpx.AsyncClient, web_engine: Engine
) -> None:
    request = first_request(web_engine)
    insurer_id = _insurer(web_engine, "Sternchen Versicherung AG", request.product_id)
    with session_scope(web_engine) as s:
        s.add(Recommendation(account_id=request.account_id, product_id=request.product_id, insurer_id=insurer_id))
    await logged_in(http, MAIN_BACKOFFICE)
    wizard = (await http.get(f"/requests/{request.id}/tenders/new")).text
    item = wizard.split("Sternchen Versicherung AG", 1)[1].split("</li>", 1)[0]
    assert "vom Account für dieses Produkt empfohlen" in item and "antwortete" not in item
