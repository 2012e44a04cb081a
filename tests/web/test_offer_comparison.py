"""The offer comparison that decides: structured terms from every offer form
(through the real workflow), the broker's comparison marking the best value
and the differences per row, and its PDF for the policyholder."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import httpx
from fastapi import FastAPI
from pypdf import PdfReader
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import Offer, Request, utcnow
from tenderdesk.states import TenderStatus

from ..conftest import Running, SmtpServer
from ..factories import add_answered_tender
from .conftest import (
    BROKER_USER,
    MAIN_BACKOFFICE,
    OTHER_BROKER_USER,
    client_for,
    logged_in,
    tenderable_insurer,
    user_by_email,
)
from .test_insurer_link import linked, rows, sample_pdf, status_of, upload
from .test_messages_ui import open_portal

MODULES = "Betriebshaftpflicht: 5.000.000\nUmwelthaftpflicht = 1.000.000,00"


async def test_insurer_offer_carries_structured_terms_and_bad_terms_change_nothing(
    dev: Running, smtp_server: SmtpServer
) -> None:
    async with open_portal(dev, smtp_server) as portal:
        [tender], [token], insurer = await linked(portal)
        refused = await upload(insurer, token, content=sample_pdf(), modules="Betriebshaftpflicht fünf Millionen",
                               commission="120", deductible="viel")
        assert refused.status_code == 422, refused.status_code
        for text in ("Deckungsbaustein in Zeile 1", "Die Courtage muss eine Prozentzahl",
                     "Die Selbstbeteiligung ist kein gültiger Betrag"):
            assert text in refused.text
        assert "Betriebshaftpflicht fünf Millionen" in refused.text  # the input is kept
        assert rows(portal.engine, Offer) == [] and status_of(portal.engine, tender) == TenderStatus.SENT

        done = await upload(insurer, token, content=sample_pdf(), deductible="1.000", commission="12,5",
                            modules=MODULES, exclusions="Asbestschäden\n\nSchäden durch Krieg\n")
        assert done.status_code == 303, done.text
        assert status_of(portal.engine, tender) == TenderStatus.OFFERED
        [offer] = rows(portal.engine, Offer)
        assert (offer.deductible_cents, offer.commission_bp) == (100_000, 1250)
        assert offer.cover_modules == [{"name": "Betriebshaftpflicht", "sum_insured_cents": 500_000_000},
                                       {"name": "Umwelthaftpflicht", "sum_insured_cents": 100_000_000}]
        assert offer.exclusions == ["Asbestschäden", "Schäden durch Krieg"]
        # The correction form shows the terms again, ready to change.
        page = (await insurer.get(f"/t/{token}")).text
        assert "Betriebshaftpflicht: 5.000.000,00" in page and 'value="12,5"' in page


def _offer(engine: Engine, request: Request, insurer_skip: int, premium: int, **terms: object) -> int:
    insurer = tenderable_insurer(engine, request, skip=insurer_skip)
    tender_id = add_answered_tender(engine, request.id, insurer.id, sent_at=utcnow() - timedelta(days=3),  # type: ignore[arg-type]
                                    status=TenderStatus.OFFERED, premium_cents=premium)
    with session_scope(engine) as s:
        offer = s.exec(select(Offer).where(Offer.tender_id == tender_id)).one()
        for key, value in terms.items():
            setattr(offer, key, value)
        offer.released_at = utcnow()
        s.add(offer)
        return offer.id  # type: ignore[return-value]


def _brokers_request(engine: Engine) -> Request:
    broker = user_by_email(engine, BROKER_USER)
    with Session(engine) as s:
        return s.exec(select(Request).where(Request.broker_id == broker.broker_id).order_by(col(Request.id))).first()  # type: ignore[return-value]


async def test_comparison_marks_best_values_and_differences_and_exports_a_pdf(
    http: httpx.AsyncClient, web_app: FastAPI, web_engine: Engine
) -> None:
    request = _brokers_request(web_engine)
    _offer(web_engine, request, 0, 250_000, deductible_cents=250_000, commission_bp=1000,
                   cover_modules=[{"name": "Betriebshaftpflicht", "sum_insured_cents": 300_000_000}],
                   exclusions=["Asbestschäden", "Schimmel"])
    _offer(web_engine, request, 1, 310_000, deductible_cents=50_000, commission_bp=1500,
                   cover_modules=[{"name": "Betriebshaftpflicht", "sum_insured_cents": 500_000_000},
                                  {"name": "Umwelthaftpflicht", "sum_insured_cents": 100_000_000}],
                   exclusions=["Asbestschäden"])
    await logged_in(http, BROKER_USER)
    page = (await http.get(f"/requests/{request.id}")).text
    table = page.split('<table class="list compare">', 1)[1].split("</table>", 1)[0]

    def row(term: str) -> str:
        found = re.search(rf'data-term="{re.escape(term)}">(.*?)</tr>', table, re.S)
        assert found, term
        return found.group(1)

    def best_cells(term: str) -> list[str]:
        cells = re.findall(r"<td class=\"([^\"]*)\">(.*?)</td>", row(term), re.S)
        return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)).strip() for cls, text in cells if "best" in cls]

    # Cheapest premium, highest sums, lowest deductible, highest Courtage, fewest exclusions.
    assert best_cells("premium")[0].startswith("2.500,00 €")
    assert best_cells("module:Betriebshaftpflicht")[0].startswith("5.000.000,00 €")
    assert best_cells("module:Umwelthaftpflicht")[0].startswith("1.000.000,00 €")
    assert "nicht enthalten" in row("module:Umwelthaftpflicht")
    assert best_cells("deductible")[0].startswith("500,00 €")
    assert best_cells("commission")[0].startswith("15 %")
    assert best_cells("exclusions")[0].startswith("Asbestschäden")
    assert 'class="only-some"' in row("exclusions") and "Schimmel" in row("exclusions")
    assert "diff-mark" in row("premium") and "nicht im PDF für den Kunden" in row("commission")
    assert f"/requests/{request.id}/angebote/vergleich.pdf" in page

    pdf = await http.get(f"/requests/{request.id}/angebote/vergleich.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert "attachment" in pdf.headers["content-disposition"]
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Angebotsvergleich" in text and request.number in text
    assert "✓ 2.500,00 €" in text and "✓ 500,00 €" in text and "Umwelthaftpflicht" in text
    assert "Courtage" not in text and "15 %" not in text  # the broker's business, not the policyholder's

    # Staff get the same PDF; another broker gets nothing of it.
    async with client_for(web_app) as staff:
        await logged_in(staff, MAIN_BACKOFFICE)
        assert (await staff.get(f"/requests/{request.id}/angebote/vergleich.pdf")).status_code == 200
        assert "ohne Courtage" in (await staff.get(f"/requests/{request.id}")).text
    async with client_for(web_app) as other:
        await logged_in(other, OTHER_BROKER_USER)
        refused = await other.get(f"/requests/{request.id}/angebote/vergleich.pdf")
        assert refused.status_code == 404 and request.number not in refused.text


async def test_no_released_offer_means_no_comparison_pdf(http: httpx.AsyncClient, web_engine: Engine) -> None:
    request = _brokers_request(web_engine)
    await logged_in(http, BROKER_USER)
    refused = await http.get(f"/requests/{request.id}/angebote/vergleich.pdf")
    assert refused.status_code == 404 and "vergleich.pdf" not in (await http.get(f"/requests/{request.id}")).text
