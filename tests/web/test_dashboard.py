"""Dashboard "Manuelle Anfragen" over HTTP, on SQLite and PostgreSQL.

Every test here runs twice: ``web_settings`` is overridden below so the app
reads either a copy of the seeded SQLite template or a PostgreSQL database
cloned from a seeded template database (``CREATE DATABASE ... TEMPLATE``), so
sorting, NULL handling and ``ILIKE`` are checked on both backends. The
broker-action rule's edge cases are checked directly on the SQL clause with
the root ``engine`` fixture (also both backends).
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tenderdesk.config import Settings
from tenderdesk.db.engine import make_engine, migrate, session_scope
from tenderdesk.db.models import (
    Account,
    Binding,
    Broker,
    Document,
    DocumentKind,
    Message,
    Offer,
    Party,
    Policyholder,
    Product,
    Request,
    RequestStatus,
    Tender,
    Thread,
    ThreadKind,
    User,
    utcnow,
)
from tenderdesk.demo.seed import seed_demo
from tenderdesk.states import TenderStatus
from tests.conftest import PG_ADMIN_URL
from tests.factories import make_world
from web.dashboard.queries import broker_action_required_clause, request_scope
from web.dashboard.query import PROGRESS

from .conftest import (
    BASE_URL,
    BROKER_USER,
    MAIN_BACKOFFICE,
    MAX_UPLOAD,
    OTHER_BACKOFFICE,
    SECOND_ACCOUNT_USER,
    Template,
    account_requests,
    logged_in,
    main_account_id,
    make_linked_tender,
    user_by_email,
)

S = TenderStatus
ROW_RE = re.compile(r'<td class="nowrap"><a href="/requests/(\d+)">')
COUNT_RE = re.compile(r'id="tab-count-(\w+)" data-live>(\d+)<')


# ----------------------------------------------------------------- both backends
@dataclass
class PgTemplate:
    name: str
    url: str
    storage_dir: Path


@pytest.fixture(scope="session")
def pg_seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgTemplate]:
    """A seeded PostgreSQL database that per-test databases are cloned from."""
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as err:
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {err}")
    name = f"td_dash_tpl_{uuid.uuid4().hex[:8]}"
    admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    root = tmp_path_factory.mktemp("pg-template")
    try:
        migrate(url)
        engine = make_engine(url)
        seed_demo(engine, Settings(database_url=url, storage_dir=root / "documents",
                                   _env_file=None), requests=8)  # type: ignore[call-arg]
        engine.dispose()  # a template must have no connections when it is cloned
        yield PgTemplate(name, url, root / "documents")
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def web_settings(request: pytest.FixtureRequest, seeded_template: Template, tmp_path: Path) -> Iterator[Settings]:
    """Overrides the conftest fixture: the same seeded data on either backend."""
    clone: str | None = None
    if request.param == "sqlite":
        db_file = tmp_path / "web.db"
        shutil.copyfile(seeded_template.db_file, db_file)
        shutil.copytree(seeded_template.storage_dir, tmp_path / "documents")
        url = f"sqlite:///{db_file}"
    else:
        pg: PgTemplate = request.getfixturevalue("pg_seeded_template")
        clone = f"td_dash_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{clone}" TEMPLATE "{pg.name}"')
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{clone}"
        shutil.copytree(pg.storage_dir, tmp_path / "documents")
    yield Settings(
        database_url=url,
        storage_dir=tmp_path / "documents",
        base_url=BASE_URL,
        secret_key="test-secret",
        max_upload_bytes=MAX_UPLOAD,
        temporal_ui_url="http://temporal-ui.test",
        _env_file=None,  # type: ignore[call-arg]
    )
    if clone is not None:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{clone}" WITH (FORCE)')


# ----------------------------------------------------------------- helpers
def listed(html: str) -> list[int]:
    return [int(x) for x in ROW_RE.findall(html)]


def counts(html: str) -> dict[str, int]:
    return {key: int(value) for key, value in COUNT_RE.findall(html)}


@dataclass
class Row:
    id: int
    number: str
    broker: str
    company: str
    assignee: str | None
    product: str
    trade: str
    rank: int
    created_at: Any


def open_rows(engine: Engine, account_id: int) -> list[Row]:
    """What the dashboard should list, computed the slow, obvious way."""
    with Session(engine) as s:
        rows = []
        for r in s.exec(select(Request).where(Request.account_id == account_id,
                                              Request.status == RequestStatus.OPEN)).all():
            broker = s.get(Broker, r.broker_id)
            product = s.get(Product, r.product_id)
            assignee = s.get(User, r.assignee_id) if r.assignee_id else None
            tenders = s.exec(select(Tender).where(Tender.request_id == r.id)).all()
            assert broker and product and r.id
            rows.append(Row(r.id, r.number, broker.name, broker.company, assignee.name if assignee else None,
                            product.name, r.trade, max((PROGRESS[t.status] for t in tenders), default=0),
                            r.created_at))
        return rows


def expected_order(rows: list[Row], column: str, direction: str) -> list[int]:
    keys = {
        "id": lambda r: (r.number, r.id),
        "vermittler": lambda r: (r.broker.lower(), r.company.lower(), r.id),
        "bearbeiter": lambda r: (r.assignee is not None, (r.assignee or "").lower(), r.id),
        "produkt": lambda r: (r.product.lower(), r.id),
        "gewerbe": lambda r: (r.trade.lower(), r.id),
        "status": lambda r: (r.rank, r.id),
        "datum": lambda r: (r.created_at, r.id),
    }
    ordered = sorted(rows, key=keys[column], reverse=direction == "desc")
    return [r.id for r in ordered]


def set_assignees(engine: Engine, assignments: dict[int, int | None]) -> None:
    with session_scope(engine) as s:
        for request_id, user_id in assignments.items():
            row = s.get(Request, request_id)
            assert row is not None
            row.assignee_id = user_id
            s.add(row)


def spread_tenders(engine: Engine, requests: list[Request]) -> None:
    """Tenders in several states, so the Status column has something to sort."""
    plan = [S.OFFERED, S.SENT, S.DECLINED, S.IN_PROGRESS, S.QUEUED, S.OFFER_EXPIRED]
    for request, status in zip(requests, plan, strict=False):
        make_linked_tender(engine, request, status=status)


def add_offer(engine: Engine, tender_id: int, *, active: bool = True, released: bool = False) -> int:
    with session_scope(engine) as s:
        tender = s.get(Tender, tender_id)
        assert tender is not None
        offer = Offer(tender_id=tender_id, request_id=tender.request_id, action_id=uuid.uuid4().hex,
                      premium_cents=100_000, valid_until=utcnow() + timedelta(days=30),
                      submitted_by=Party.INSURER, active=active, released_at=utcnow() if released else None)
        s.add(offer)
        s.flush()
        tender.current_offer_id = offer.id
        s.add(tender)
        assert offer.id is not None
        return offer.id


# ----------------------------------------------------------------- listing and access
async def test_lists_open_requests_of_the_own_account_only(http: httpx.AsyncClient, web_engine: Engine) -> None:
    await logged_in(http, MAIN_BACKOFFICE)
    account_id = main_account_id(web_engine)
    requests = account_requests(web_engine, account_id)
    closed = requests[0]
    with session_scope(web_engine) as s:
        row = s.get(Request, closed.id)
        assert row is not None
        row.status = RequestStatus.CLOSED
        s.add(row)

    page = await http.get("/")

    assert page.status_code == 200
    assert set(listed(page.text)) == {r.id for r in requests if r.id != closed.id}
    for header in ("ID", "Vermittler", "Bearbeiter", "Produkt", "Gewerbe", "Status", "Datum"):
        assert f">{header}<" in page.text
    for tab in ("Alle", "Vermittleraktion erforderlich", "Nachrichten"):
        assert tab in page.text
    # The live-update contract: scope on the wrapper, swappable parts, the script, a CSP that allows it.
    assert 'data-live-scope="dashboard"' in page.text and 'id="dashboard-results"' in page.text
    assert '<script src="/static/live.js" defer></script>' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "connect-src 'self'" in page.headers["content-security-policy"]


async def test_other_account_never_shows_up(http: httpx.AsyncClient, web_engine: Engine) -> None:
    await logged_in(http, SECOND_ACCOUNT_USER)
    user = user_by_email(web_engine, SECOND_ACCOUNT_USER)
    own = {r.id for r in account_requests(web_engine, user.account_id)}
    foreign = account_requests(web_engine, main_account_id(web_engine))

    assert set(listed((await http.get("/")).text)) == own
    # Not by searching for a foreign number, nor by filtering for a foreign Bearbeiter.
    assert listed((await http.get("/", params={"q": foreign[0].number})).text) == []
    anna = user_by_email(web_engine, MAIN_BACKOFFICE)
    refused = await http.get("/", params={"bearbeiter": str(anna.id)})
    assert refused.status_code == 400
    assert "Diesen Bearbeiter gibt es in Ihrem Account nicht." in refused.text
    assert "Anna Berger" not in refused.text  # the foreign user is not offered either


async def test_broker_sees_only_his_requests(http: httpx.AsyncClient, web_engine: Engine) -> None:
    broker_user = user_by_email(web_engine, BROKER_USER)
    requests = sorted(account_requests(web_engine, broker_user.account_id), key=lambda r: r.id or 0)
    with session_scope(web_engine) as s:  # make sure both kinds exist
        other = s.exec(select(Broker).where(Broker.account_id == broker_user.account_id,
                                            Broker.id != broker_user.broker_id)).first()
        assert other is not None
        for i, r in enumerate(requests):
            row = s.get(Request, r.id)
            assert row is not None
            row.broker_id = broker_user.broker_id if i % 2 else other.id  # type: ignore[assignment]
            s.add(row)
    own = {r.id for i, r in enumerate(requests) if i % 2}
    # An offered request of another broker must not leak through the action tab or its count.
    offered = make_linked_tender(web_engine, requests[0], status=S.OFFERED)
    add_offer(web_engine, offered.tender_id, released=True)
    await logged_in(http, BROKER_USER)

    page = await http.get("/")
    assert set(listed(page.text)) == own
    assert counts(page.text)["alle"] == len(own)
    assert listed((await http.get("/?tab=vermittleraktion")).text) == []
    assert counts(page.text)["vermittleraktion"] == 0
    assert listed((await http.get("/", params={"q": requests[0].number})).text) == []
    # "Mir zugewiesen" is a backoffice notion.
    assert (await http.get("/?bearbeiter=me")).status_code == 400
    assert 'value="me"' not in page.text


async def test_broker_action_tab_for_brokers_counts_released_offers_only(
    http: httpx.AsyncClient, web_engine: Engine
) -> None:
    broker_user = user_by_email(web_engine, BROKER_USER)
    request = [r for r in account_requests(web_engine, broker_user.account_id)
               if r.broker_id == broker_user.broker_id][0]
    tender = make_linked_tender(web_engine, request, status=S.OFFERED)
    offer_id = add_offer(web_engine, tender.tender_id, released=False)
    assert account_of_user_needs_release(web_engine, broker_user)
    await logged_in(http, BROKER_USER)
    assert listed((await http.get("/?tab=vermittleraktion")).text) == []

    with session_scope(web_engine) as s:
        offer = s.get(Offer, offer_id)
        assert offer is not None
        offer.released_at = utcnow()
        s.add(offer)
    assert listed((await http.get("/?tab=vermittleraktion")).text) == [request.id]


def account_of_user_needs_release(engine: Engine, user: User) -> bool:
    with Session(engine) as s:
        account = s.get(Account, user.account_id)
        assert account is not None
        return account.offers_need_release


async def test_not_logged_in_goes_to_login(http: httpx.AsyncClient) -> None:
    response = await http.get("/?tab=vermittleraktion")
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


# ----------------------------------------------------------------- sorting
@pytest.mark.parametrize("column", ["id", "vermittler", "bearbeiter", "produkt", "gewerbe", "status", "datum"])
async def test_every_column_sorts_both_ways(http: httpx.AsyncClient, web_engine: Engine, column: str) -> None:
    account_id = main_account_id(web_engine)
    requests = sorted(account_requests(web_engine, account_id), key=lambda r: r.id or 0)
    spread_tenders(web_engine, requests)
    anna, jonas = user_by_email(web_engine, MAIN_BACKOFFICE), user_by_email(web_engine, OTHER_BACKOFFICE)
    set_assignees(web_engine, {r.id: [None, anna.id, jonas.id][i % 3] for i, r in enumerate(requests)})  # type: ignore[misc]
    rows = open_rows(web_engine, account_id)
    await logged_in(http, MAIN_BACKOFFICE)

    for direction in ("asc", "desc"):
        page = await http.get("/", params={"sort": column, "dir": direction})
        assert page.status_code == 200
        assert listed(page.text) == expected_order(rows, column, direction), (column, direction)
        arrow = "▲" if direction == "asc" else "▼"
        assert f'aria-sort="{"ascending" if direction == "asc" else "descending"}"' in page.text
        assert f'<span class="sort-arrow" aria-hidden="true">{arrow}</span>' in page.text
        # The header link toggles the direction of the current column.
        toggled = "desc" if direction == "asc" else "asc"
        assert f'href="/?tab=alle&amp;sort={column}&amp;dir={toggled}"' in page.text


async def test_default_order_is_newest_first(http: httpx.AsyncClient, web_engine: Engine) -> None:
    rows = open_rows(web_engine, main_account_id(web_engine))
    await logged_in(http, MAIN_BACKOFFICE)
    assert listed((await http.get("/")).text) == expected_order(rows, "datum", "desc")


async def test_sort_by_bearbeiter_puts_unassigned_first(http: httpx.AsyncClient, web_engine: Engine) -> None:
    anna = user_by_email(web_engine, MAIN_BACKOFFICE)
    requests = sorted(account_requests(web_engine, anna.account_id), key=lambda r: r.id or 0)
    assigned = {r.id for r in requests[::2]}
    set_assignees(web_engine, {r.id: anna.id if r.id in assigned else None for r in requests})  # type: ignore[misc]
    await logged_in(http, MAIN_BACKOFFICE)

    page = await http.get("/")
    # One click on the header (the guide's tip) is the ascending sort.
    assert 'href="/?tab=alle&amp;sort=bearbeiter&amp;dir=asc"' in page.text
    ascending = listed((await http.get("/?tab=alle&sort=bearbeiter&dir=asc")).text)
    descending = listed((await http.get("/?tab=alle&sort=bearbeiter&dir=desc")).text)

    n_unassigned = len(requests) - len(assigned)
    assert set(ascending[:n_unassigned]).isdisjoint(assigned)
    assert set(ascending[n_unassigned:]) == assigned
    assert descending == list(reversed(ascending))


# ----------------------------------------------------------------- search and filters
async def test_search_by_number_broker_company_and_policyholder(http: httpx.AsyncClient, web_engine: Engine) -> None:
    account_id = main_account_id(web_engine)
    requests = sorted(account_requests(web_engine, account_id), key=lambda r: r.id or 0)
    target = requests[3]
    with Session(web_engine) as s:
        broker = s.get(Broker, target.broker_id)
        holder = s.get(Policyholder, target.policyholder_id)
        assert broker and holder
        same_broker = {r.id for r in requests if r.broker_id == broker.id}
        same_holder = {r.id for r in requests if r.policyholder_id == holder.id}
    await logged_in(http, MAIN_BACKOFFICE)

    async def search(text: str) -> set[int]:
        page = await http.get("/", params={"q": text})
        assert page.status_code == 200
        return set(listed(page.text))

    assert await search(target.number) == {target.id}
    assert await search(target.number[-3:].lower()) >= {target.id}
    assert await search(broker.name.upper()) == same_broker
    assert await search(broker.company.split()[0].lower()) >= same_broker
    assert await search(holder.name) == same_holder
    assert await search("  " + holder.name.lower() + "  ") == same_holder  # trimmed, case-insensitive
    # LIKE wildcards are taken literally.
    assert await search("%") == set()
    assert await search("_") == set()
    assert await search("gibt es nicht") == set()
    too_long = await http.get("/", params={"q": "x" * 101})
    assert too_long.status_code == 400 and "höchstens 100 Zeichen" in too_long.text


async def test_filter_by_bearbeiter(http: httpx.AsyncClient, web_engine: Engine) -> None:
    anna, jonas = user_by_email(web_engine, MAIN_BACKOFFICE), user_by_email(web_engine, OTHER_BACKOFFICE)
    requests = sorted(account_requests(web_engine, anna.account_id), key=lambda r: r.id or 0)
    plan = {r.id: [anna.id, jonas.id, None][i % 3] for i, r in enumerate(requests)}
    set_assignees(web_engine, plan)  # type: ignore[arg-type]
    await logged_in(http, MAIN_BACKOFFICE)

    async def ids(value: str) -> set[int]:
        page = await http.get("/", params={"bearbeiter": value})
        assert page.status_code == 200
        return set(listed(page.text))

    assert await ids("me") == {i for i, u in plan.items() if u == anna.id}
    assert await ids(str(jonas.id)) == {i for i, u in plan.items() if u == jonas.id}
    assert await ids("none") == {i for i, u in plan.items() if u is None}
    assert await ids("") == set(plan)
    page = await http.get("/", params={"bearbeiter": "me"})
    assert '<option value="me" selected>Mir zugewiesen</option>' in page.text
    for bad in ("nobody", "999999", "-1"):
        assert (await http.get("/", params={"bearbeiter": bad})).status_code == 400


async def test_filter_by_product_and_status(http: httpx.AsyncClient, web_engine: Engine) -> None:
    account_id = main_account_id(web_engine)
    requests = sorted(account_requests(web_engine, account_id), key=lambda r: r.id or 0)
    spread_tenders(web_engine, requests)
    # A request with an offer and a decline shows (and filters as) its best tender: the offer.
    make_linked_tender(web_engine, requests[0], status=S.DECLINED, insurer_skip=1)
    rows = open_rows(web_engine, account_id)
    await logged_in(http, MAIN_BACKOFFICE)

    product_id = requests[0].product_id
    page = await http.get("/", params={"produkt": str(product_id)})
    assert set(listed(page.text)) == {r.id for r in requests if r.product_id == product_id}

    for status in S:
        page = await http.get("/", params={"status": status.value})
        assert page.status_code == 200
        assert set(listed(page.text)) == {r.id for r in rows if r.rank == PROGRESS[status]}, status
    new = await http.get("/", params={"status": "neu"})
    assert set(listed(new.text)) == {r.id for r in rows if r.rank == 0}
    assert requests[0].id in set(listed((await http.get("/", params={"status": "offered"})).text))

    combined = await http.get("/", params={"status": "neu", "produkt": str(product_id), "q": "MA-"})
    assert set(listed(combined.text)) == {
        r.id for r in rows if r.rank == 0 and any(q.id == r.id and q.product_id == product_id for q in requests)
    }
    assert (await http.get("/", params={"status": "bogus"})).status_code == 400
    assert (await http.get("/", params={"produkt": "abc"})).status_code == 400
    assert (await http.get("/", params={"produkt": "999999"})).status_code == 400


async def test_bad_parameters_are_400_with_a_german_message(http: httpx.AsyncClient) -> None:
    await logged_in(http, MAIN_BACKOFFICE)
    cases = {
        "?sort=nonsense": "Nach dieser Spalte kann nicht sortiert werden.",
        "?sort=status&dir=sideways": "Nach dieser Spalte kann nicht sortiert werden.",
        "?tab=unknown": "Diese Ansicht gibt es nicht.",
        "?page=0": "Die Seitenzahl muss eine ganze Zahl ab 1 sein.",
        "?page=abc": "Die Seitenzahl muss eine ganze Zahl ab 1 sein.",
    }
    for query, message in cases.items():
        response = await http.get("/" + query)
        assert response.status_code == 400, query
        assert message in response.text, query
        assert listed(response.text), "the unfiltered list is still shown"


async def test_state_lives_in_the_url(http: httpx.AsyncClient, web_engine: Engine) -> None:
    """Sorting keeps the filters, and tabs keep what applies to them (bookmarkable views)."""
    requests = account_requests(web_engine, main_account_id(web_engine))
    set_assignees(web_engine, {r.id: None for r in requests})  # type: ignore[misc]
    await logged_in(http, MAIN_BACKOFFICE)
    page = await http.get("/", params={"q": "MA-", "bearbeiter": "none", "sort": "gewerbe", "dir": "desc"})
    assert page.status_code == 200 and listed(page.text)
    assert 'href="/?tab=alle&amp;sort=produkt&amp;dir=asc&amp;q=MA-&amp;bearbeiter=none"' in page.text
    # The form carries the current tab and sort as hidden fields.
    assert '<input type="hidden" name="tab" value="alle">' in page.text
    assert '<input type="hidden" name="sort" value="gewerbe">' in page.text
    assert '<input type="hidden" name="dir" value="desc">' in page.text
    # The other request tab keeps search and filters; "Nachrichten" keeps only the Bearbeiter.
    assert 'href="/?tab=vermittleraktion&amp;sort=gewerbe&amp;dir=desc&amp;q=MA-&amp;bearbeiter=none"' in page.text
    assert 'href="/?tab=nachrichten&amp;bearbeiter=none"' in page.text
    # "Filter zurücksetzen" keeps the sort.
    assert 'href="/?tab=alle&amp;sort=gewerbe&amp;dir=desc" class="dash-reset"' in page.text


# ----------------------------------------------------------------- paging and counts
async def test_paging_50_per_page_with_totals(http: httpx.AsyncClient, web_engine: Engine) -> None:
    template = account_requests(web_engine, main_account_id(web_engine))[0]
    with session_scope(web_engine) as s:
        for n in range(110):
            s.add(Request(
                number=f"MA-PAGE-{n:05d}", account_id=template.account_id,
                broker_id=template.broker_id, policyholder_id=template.policyholder_id,
                product_id=template.product_id, trade="Bäckerei",
            ))
    total = len(account_requests(web_engine, template.account_id))
    await logged_in(http, MAIN_BACKOFFICE)

    pages = [await http.get("/", params={"sort": "id", "dir": "asc", "page": str(n)}) for n in (1, 2, 3)]
    ids = [listed(p.text) for p in pages]
    assert [len(i) for i in ids] == [50, 50, total - 100]
    assert len(set(ids[0]) | set(ids[1]) | set(ids[2])) == total
    assert f"Anfragen 51–100 von {total}" in pages[1].text
    assert "Seite 3 von 3" in pages[2].text
    assert 'href="/?tab=alle&amp;sort=id&amp;dir=asc&amp;page=3" rel="next"' in pages[1].text
    assert 'href="/?tab=alle&amp;sort=id&amp;dir=asc" rel="prev"' in pages[1].text
    # Past the end: the last page (the list may have shrunk since the link was made).
    beyond = await http.get("/", params={"sort": "id", "dir": "asc", "page": "999"})
    assert beyond.status_code == 200 and listed(beyond.text) == ids[2]
    # A filter counts its own total.
    filtered = await http.get("/", params={"q": "MA-PAGE-0000"})
    assert "Anfragen 1–10 von 10" in filtered.text
    assert counts(filtered.text)["alle"] == total


async def test_tab_counts(http: httpx.AsyncClient, web_engine: Engine) -> None:
    account_id = main_account_id(web_engine)
    requests = sorted(account_requests(web_engine, account_id), key=lambda r: r.id or 0)
    for request in requests[:2]:
        tender = make_linked_tender(web_engine, request, status=S.OFFERED)
        add_offer(web_engine, tender.tender_id)
    make_linked_tender(web_engine, requests[2], status=S.SENT)
    with session_scope(web_engine) as s:
        thread = Thread(request_id=requests[0].id, kind=ThreadKind.BROKER)  # type: ignore[arg-type]
        s.add(thread)
        s.flush()
        for n, visible in enumerate((True, True, False)):
            s.add(Message(thread_id=thread.id, request_id=requests[0].id, action_id=f"count-{n}",  # type: ignore[arg-type]
                          author=Party.BROKER, body=f"Frage {n}", visible=visible))
    await logged_in(http, MAIN_BACKOFFICE)

    page = await http.get("/?bearbeiter=none&q=zzz")  # filters do not change the tab counts
    assert counts(page.text) == {"alle": len(requests), "vermittleraktion": 2, "nachrichten": 2,
                                 "abgeschlossen": 0, "gesamt": len(requests)}
    action = await http.get("/?tab=vermittleraktion")
    assert set(listed(action.text)) == {requests[0].id, requests[1].id}
    messages = await http.get("/?tab=nachrichten")
    assert "Frage 0" in messages.text and "Frage 1" in messages.text and "Frage 2" not in messages.text
    assert f'href="/requests/{requests[0].id}#nachrichten"' in messages.text


async def test_messages_tab_filters(http: httpx.AsyncClient, web_engine: Engine) -> None:
    anna = user_by_email(web_engine, MAIN_BACKOFFICE)
    requests = sorted(account_requests(web_engine, anna.account_id), key=lambda r: r.id or 0)
    set_assignees(web_engine, {requests[0].id: anna.id, requests[1].id: None})  # type: ignore[dict-item]
    with session_scope(web_engine) as s:
        for n, request in enumerate(requests[:2]):
            thread = Thread(request_id=request.id, kind=ThreadKind.BROKER)  # type: ignore[arg-type]
            s.add(thread)
            s.flush()
            s.add(Message(thread_id=thread.id, request_id=request.id, action_id=f"tab-{n}",  # type: ignore[arg-type]
                          author=Party.BROKER, body=f"Nachricht zu Anfrage {n}", visible=True,
                          unprocessed=n == 0))
    await logged_in(http, MAIN_BACKOFFICE)

    everything = (await http.get("/?tab=nachrichten")).text
    assert "Nachricht zu Anfrage 0" in everything and "Nachricht zu Anfrage 1" in everything
    mine = (await http.get("/?tab=nachrichten&bearbeiter=me")).text
    assert "Nachricht zu Anfrage 0" in mine and "Nachricht zu Anfrage 1" not in mine
    unassigned = (await http.get("/?tab=nachrichten&bearbeiter=none")).text
    assert "Nachricht zu Anfrage 1" in unassigned and "Nachricht zu Anfrage 0" not in unassigned
    # The guide's tip: yourself as Bearbeiter, then "unbearbeitet".
    tip = (await http.get(f"/?tab=nachrichten&bearbeiter={anna.id}&unbearbeitet=1")).text
    assert "Nachricht zu Anfrage 0" in tip and "Nachricht zu Anfrage 1" not in tip
    assert 'aria-current="page">Unbearbeitet' in tip


# ----------------------------------------------------------------- the broker-action rule
@dataclass
class Case:
    name: str
    tenders: list[tuple[TenderStatus, bool]]  # (status, has an active offer)
    bound: bool
    expected: bool


CASES = [
    Case("no tenders", [], False, False),
    Case("one open and one offered", [(S.SENT, False), (S.OFFERED, True)], False, False),
    Case("queued and offered", [(S.QUEUED, False), (S.OFFERED, True)], False, False),
    Case("in progress and offered", [(S.IN_PROGRESS, False), (S.OFFERED, True)], False, False),
    Case("all declined", [(S.DECLINED, False), (S.DECLINED, False)], False, False),
    Case("offered but bound", [(S.OFFERED, True)], True, False),
    Case("offer expired only", [(S.OFFER_EXPIRED, True)], False, True),
    Case("withdrawn and offered", [(S.WITHDRAWN, False), (S.OFFERED, True)], False, True),
    Case("declined, expired and offered", [(S.DECLINED, False), (S.EXPIRED, False), (S.OFFERED, True)],
         False, True),
    Case("offered without an active offer yet", [(S.OFFERED, False)], False, False),
    Case("only closed tenders", [(S.CLOSED, True)], False, False),
]


def build_case(engine: Engine, account_id: int, template: Request, insurer_ids: list[int], case: Case) -> int:
    with session_scope(engine) as s:
        request = Request(number=f"MA-RULE-{uuid.uuid4().hex[:8]}", account_id=account_id,
                          broker_id=template.broker_id, policyholder_id=template.policyholder_id,
                          product_id=template.product_id, trade=template.trade)
        s.add(request)
        s.flush()
        assert request.id is not None
        for (status, with_offer), insurer_id in zip(case.tenders, insurer_ids, strict=False):
            tender = Tender(request_id=request.id, insurer_id=insurer_id, contact_email="t@x.example",
                            workflow_id=f"w-{request.id}-{insurer_id}", status=status)
            s.add(tender)
            s.flush()
            assert tender.id is not None
            if with_offer:
                offer = Offer(tender_id=tender.id, request_id=request.id, action_id=uuid.uuid4().hex,
                              premium_cents=1, valid_until=utcnow(), submitted_by=Party.INSURER, active=True)
                s.add(offer)
                s.flush()
                if case.bound:
                    s.add(Binding(request_id=request.id, offer_id=offer.id, tender_id=tender.id,  # type: ignore[arg-type]
                                  bound_by_id=template_user(s, account_id)))
        return request.id


def template_user(s: Session, account_id: int) -> int:
    user = s.exec(select(User).where(User.account_id == account_id)).first()
    assert user is not None and user.id is not None
    return user.id


def test_broker_action_rule_edge_cases(engine: Engine) -> None:
    world = make_world(engine, insurers=3, tag=uuid.uuid4().hex[:6])
    with Session(engine) as s:
        template = s.get(Request, world.request_id)
        user = s.get(User, world.backoffice_user_id)
        assert template and user
    built = {case.name: build_case(engine, world.account_id, template, world.insurer_ids, case) for case in CASES}

    with Session(engine) as s:
        matching = set(s.exec(
            select(Request.id).where(*request_scope(user), broker_action_required_clause())
        ).all())
        # The same rule, used as a column: one query can say it for every request.
        flags = dict(s.exec(  # type: ignore[call-overload]
            select(Request.id, broker_action_required_clause()).where(col(Request.id).in_(list(built.values())))
        ).all())

    for case in CASES:
        assert (built[case.name] in matching) is case.expected, case.name
        assert bool(flags[built[case.name]]) is case.expected, case.name
    assert world.request_id not in matching  # the factory's request has no tenders


def test_broker_action_rule_released_only(engine: Engine) -> None:
    world = make_world(engine, insurers=1, tag=uuid.uuid4().hex[:6])
    with Session(engine) as s:
        template = s.get(Request, world.request_id)
        assert template
    request_id = build_case(engine, world.account_id, template, world.insurer_ids,
                            Case("offered", [(S.OFFERED, True)], False, True))

    def matches(released_only: bool) -> bool:
        with Session(engine) as s:
            return request_id in set(s.exec(
                select(Request.id).where(broker_action_required_clause(released_only=released_only))
            ).all())

    assert matches(False) and not matches(True)
    with session_scope(engine) as s:
        offer = s.exec(select(Offer).where(Offer.request_id == request_id)).one()
        offer.released_at = utcnow()
        s.add(offer)
    assert matches(True)



async def test_renders_in_english_for_english_users(http: httpx.AsyncClient, web_engine: Engine) -> None:
    """Template texts go through gettext; the page must render in every locale."""
    with session_scope(web_engine) as s:
        user = s.exec(select(User).where(User.email == MAIN_BACKOFFICE)).one()
        user.locale = "en"
        s.add(user)
    requests = sorted(account_requests(web_engine, main_account_id(web_engine)), key=lambda r: r.id or 0)
    spread_tenders(web_engine, requests)
    await logged_in(http, MAIN_BACKOFFICE)
    for path in ("/", "/?tab=vermittleraktion", "/?tab=nachrichten", "/?sort=status&dir=desc"):
        page = await http.get(path)
        assert page.status_code == 200, path
        assert '<html lang="en">' in page.text


async def test_bound_requests_are_found_in_the_archive(http: httpx.AsyncClient, web_engine: Engine) -> None:
    """Issue 10, item 1: after "Abschluss" a request vanished from every list,
    even when searched by its exact number."""
    broker = user_by_email(web_engine, BROKER_USER)
    with session_scope(web_engine) as s:
        request = s.exec(select(Request).where(Request.broker_id == broker.broker_id)
                         .order_by(col(Request.id))).first()
        assert request is not None
        request.status = RequestStatus.BOUND
        note = Document(request_id=request.id, kind=DocumentKind.COVER_NOTE, filename="Deckungsnote.pdf",  # type: ignore[arg-type]
                        content_type="application/pdf", size_bytes=10, sha256="0" * 64, storage_key="x/cover.pdf",
                        uploaded_by=Party.BACKOFFICE)
        s.add(note)
        s.flush()
        bound_id, number, note_id = request.id, request.number, note.id
    for who in (MAIN_BACKOFFICE, BROKER_USER):
        http.cookies.clear()
        await logged_in(http, who)
        open_list = await http.get("/", params={"q": number})
        assert bound_id not in listed(open_list.text)
        assert "abgeschlossene Anfrage passt" in open_list.text and "tab=abgeschlossen" in open_list.text
        archive = await http.get("/", params={"tab": "abgeschlossen", "q": number})
        assert listed(archive.text) == [bound_id]
        assert f"/requests/{bound_id}/documents/{note_id}" in archive.text and "Abgeschlossen" in archive.text
        everything = await http.get("/", params={"tab": "gesamt"})
        assert bound_id in listed(everything.text)
        tabs = counts(everything.text)
        assert tabs["abgeschlossen"] == 1 and tabs["gesamt"] == tabs["alle"] + 1


async def test_the_broker_sees_his_own_portal(http: httpx.AsyncClient, web_engine: Engine) -> None:
    """Issue 10, item 10: branded "Backoffice", the staff in his Bearbeiter filter,
    the insurers' Aussteuerungsgründe on his request page."""
    broker = user_by_email(web_engine, BROKER_USER)
    with Session(web_engine) as s:
        request = s.exec(select(Request).where(Request.broker_id == broker.broker_id)).first()
        assert request is not None
    await logged_in(http, BROKER_USER)
    dashboard = (await http.get("/")).text
    page = (await http.get(f"/requests/{request.id}")).text

    for html in (dashboard, page):
        assert "Vermittlerportal" in html and 'class="brand-sub">Backoffice' not in html
    assert 'name="bearbeiter"' not in dashboard and "Anna Berger" not in dashboard.split("<table")[0]
    assert "Aussteuerungsgr" not in page
    refused = await http.get("/", params={"bearbeiter": str(user_by_email(web_engine, MAIN_BACKOFFICE).id)})
    assert refused.status_code == 400

    http.cookies.clear()
    await logged_in(http, MAIN_BACKOFFICE)
    staff_page = (await http.get(f"/requests/{request.id}")).text
    assert "Aussteuerungsgr" in staff_page and 'class="brand-sub">Backoffice' in staff_page
