"""Dashboard "Manuelle Anfragen": account scope, broker scope, sorting, paging."""

from __future__ import annotations

import re

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tenderdesk.db import session_scope
from tenderdesk.models import Broker, Request, RequestStatus, Tender
from tenderdesk.states import TenderStatus

from .conftest import (
    BROKER_USER,
    MAIN_BACKOFFICE,
    SECOND_ACCOUNT_USER,
    account_requests,
    logged_in,
    main_account_id,
    make_linked_tender,
    user_by_email,
)

ROW_RE = re.compile(r'<td class="nowrap"><a href="/requests/(\d+)">')


def listed(html: str) -> list[int]:
    return [int(x) for x in ROW_RE.findall(html)]


async def test_lists_open_requests_of_the_own_account_only(
    http: httpx.AsyncClient, web_engine: Engine
) -> None:
    await logged_in(http, MAIN_BACKOFFICE)
    account_id = main_account_id(web_engine)
    requests = account_requests(web_engine, account_id)
    closed = requests[0]
    with session_scope(web_engine) as s:
        row = s.get(Request, closed.id)
        row.status = RequestStatus.CLOSED  # type: ignore[union-attr]
        s.add(row)

    page = await http.get("/")

    ids = set(listed(page.text))
    assert ids == {r.id for r in requests if r.id != closed.id}
    for header in ("ID", "Vermittler", "Bearbeiter", "Produkt", "Gewerbe", "Status", "Datum"):
        assert f">{header}" in page.text
    assert "Alle" in page.text and "Vermittleraktion erforderlich" in page.text


async def test_second_account_sees_its_own_requests(http: httpx.AsyncClient, web_engine: Engine) -> None:
    await logged_in(http, SECOND_ACCOUNT_USER)
    user = user_by_email(web_engine, SECOND_ACCOUNT_USER)
    page = await http.get("/")
    assert set(listed(page.text)) == {r.id for r in account_requests(web_engine, user.account_id)}


async def test_broker_sees_only_his_requests(http: httpx.AsyncClient, web_engine: Engine) -> None:
    broker_user = user_by_email(web_engine, BROKER_USER)
    requests = account_requests(web_engine, broker_user.account_id)
    with session_scope(web_engine) as s:  # make sure both kinds exist
        other = s.exec(select(Broker).where(Broker.id != broker_user.broker_id)).first()
        for i, r in enumerate(requests):
            row = s.get(Request, r.id)
            row.broker_id = broker_user.broker_id if i % 2 else other.id  # type: ignore[union-attr]
            s.add(row)
    await logged_in(http, BROKER_USER)

    ids = set(listed((await http.get("/")).text))

    assert ids == {r.id for i, r in enumerate(requests) if i % 2}


async def test_sort_by_bearbeiter_puts_unassigned_first(
    http: httpx.AsyncClient, web_engine: Engine
) -> None:
    anna = user_by_email(web_engine, MAIN_BACKOFFICE)
    requests = sorted(account_requests(web_engine, anna.account_id), key=lambda r: r.id or 0)
    assigned = {r.id for r in requests[::2]}
    with session_scope(web_engine) as s:
        for r in requests:
            row = s.get(Request, r.id)
            row.assignee_id = anna.id if r.id in assigned else None  # type: ignore[union-attr]
            s.add(row)
    await logged_in(http, MAIN_BACKOFFICE)

    page = await http.get("/")
    assert 'href="/?tab=alle&amp;sort=bearbeiter&amp;dir=asc"' in page.text  # the header link
    ascending = listed((await http.get("/?tab=alle&sort=bearbeiter&dir=asc")).text)
    descending = listed((await http.get("/?tab=alle&sort=bearbeiter&dir=desc")).text)

    n_unassigned = len(requests) - len(assigned)
    assert set(ascending[:n_unassigned]).isdisjoint(assigned)
    assert set(ascending[n_unassigned:]) == assigned
    assert set(descending[: len(assigned)]) == assigned


async def test_other_sorts_and_bad_parameters(http: httpx.AsyncClient, web_engine: Engine) -> None:
    await logged_in(http, MAIN_BACKOFFICE)
    with Session(web_engine) as s:
        numbers = {r.id: r.number for r in s.exec(select(Request)).all()}
    by_id = listed((await http.get("/?sort=id&dir=asc")).text)
    assert [numbers[i] for i in by_id] == sorted(numbers[i] for i in by_id)
    for query in ("?sort=nonsense", "?sort=status&dir=sideways", "?page=999", "?tab=unknown",
                  "?sort=vermittler", "?sort=produkt&dir=desc", "?sort=gewerbe", "?sort=datum"):
        assert (await http.get("/" + query)).status_code == 200, query


async def test_status_column_and_broker_action_tab(http: httpx.AsyncClient, web_engine: Engine) -> None:
    account_id = main_account_id(web_engine)
    requests = sorted(account_requests(web_engine, account_id), key=lambda r: r.id or 0)
    offered = make_linked_tender(web_engine, requests[0], status=TenderStatus.OFFERED)
    make_linked_tender(web_engine, requests[0], status=TenderStatus.DECLINED, insurer_skip=1)
    make_linked_tender(web_engine, requests[1], status=TenderStatus.SENT)
    await logged_in(http, MAIN_BACKOFFICE)

    page = (await http.get("/?sort=status&dir=desc")).text
    assert listed(page)[:2] == [requests[0].id, requests[1].id]
    assert "Angebot erhalten" in page and "Ausgeschrieben" in page

    action_tab = listed((await http.get("/?tab=vermittleraktion")).text)
    assert action_tab == [requests[0].id]
    with session_scope(web_engine) as s:
        tender = s.get(Tender, offered.tender_id)
        tender.status = TenderStatus.SENT  # type: ignore[union-attr]
        s.add(tender)
    assert listed((await http.get("/?tab=vermittleraktion")).text) == []


async def test_paging_50_per_page(http: httpx.AsyncClient, web_engine: Engine) -> None:
    template = account_requests(web_engine, main_account_id(web_engine))[0]
    with session_scope(web_engine) as s:
        for n in range(60):
            s.add(Request(
                number=f"MA-PAGE-{n:05d}", account_id=template.account_id,
                broker_id=template.broker_id, policyholder_id=template.policyholder_id,
                product_id=template.product_id, trade="Bäckerei",
            ))
    await logged_in(http, MAIN_BACKOFFICE)

    first = await http.get("/?sort=id&dir=asc")
    second = await http.get("/?sort=id&dir=asc&page=2")

    assert len(listed(first.text)) == 50
    total = len(account_requests(web_engine, template.account_id))
    assert len(listed(second.text)) == total - 50
    assert "Seite 2 von 2" in second.text
