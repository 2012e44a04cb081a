"""Fictional German demo data for an empty (already migrated) database.

:func:`seed_demo` creates a broker pool's backoffice ("Maklerpool Nord
Backoffice") with users, brokers (Vermittler), policyholders, products, insurers
with their tender addresses, recommended insurers, and open requests (Anfragen)
with questionnaire answers, referral reasons and PDF documents, plus a second,
small account so that authorisation between accounts can be tried out.

Everything is invented: company and person names, insurers, streets. Email
addresses use the reserved domains ``tenderdesk.example``, ``example.com`` and
``*.example``; phone numbers come from the ranges the Bundesnetzagentur keeps
for film and television. No tenders are created: starting one starts a
workflow, and that is the product's job.

The output depends only on ``seed`` and ``now`` (``random.Random(seed)``), so
two runs with the same arguments produce the same rows and byte-identical PDFs.
Rows are written with multi-row INSERTs, so ``requests=10000`` serves as a
benchmark data set. At most :data:`PDF_BUDGET` distinct PDFs are rendered; past
that, documents reuse stored files of the same product (content-addressed
storage keeps one copy), so their contents name an earlier request.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from tenderdesk.config import Settings
from tenderdesk.db.engine import session_scope
from tenderdesk.db.models import (
    Account,
    Broker,
    Document,
    DocumentKind,
    Insurer,
    InsurerContact,
    Party,
    Policyholder,
    Product,
    Recommendation,
    ReferralReason,
    Request,
    RequestStatus,
    Role,
    User,
)
from tenderdesk.demo.data import (
    ADMIN_PASSWORD,
    CITIES_NORTH,
    CITIES_SOUTH,
    CITY_STATES,
    DAY_S,
    DEMO_PASSWORD,
    DEPARTMENT,
    FIRST_NAMES,
    INSURERS,
    MAIN_BROKERS,
    MAIN_USERS,
    PRODUCTS,
    SECOND_BROKER,
    SECOND_USERS,
    SURNAMES,
    BrokerSpec,
    UserSpec,
)
from tenderdesk.demo.pdf import render_pdf
from tenderdesk.demo.plan import AccountRef, BrokerRef, Catalogue, RequestPlan, plan_requests
from tenderdesk.demo.risk import Holder
from tenderdesk.documents.storage import store_bytes
from tenderdesk.security.passwords import hash_password

log = logging.getLogger(__name__)


DEFAULT_SEED = 20260101
#: Most distinct PDFs rendered per run; further documents share stored files.
PDF_BUDGET = 50
MAIN_ACCOUNT_NAME = "Maklerpool Nord Backoffice"
SECOND_ACCOUNT_NAME = "Assekuranzkontor Süd Backoffice"
REQUEST_NUMBER_PREFIX = "MA"

PDF_CONTENT_TYPE = "application/pdf"


class SeedError(RuntimeError):
    """The database already holds data; the seed only fills an empty one."""


# --------------------------------------------------------------------------- writing


def _table(model: type[SQLModel]) -> Table:
    return SQLModel.metadata.tables[str(model.__tablename__)]


def _insert_returning_ids(conn: Connection, model: type[SQLModel],
                          rows: list[dict[str, Any]]) -> list[int]:
    """Multi-row INSERT ... RETURNING id, ids in the order of ``rows``."""
    if not rows:
        return []
    table = _table(model)
    stmt = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return [int(i) for i in conn.execute(stmt, rows).scalars()]


def _insert(conn: Connection, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(insert(_table(model)), rows)


def _ensure_empty(session: Session) -> None:
    for model in (Account, User, Product, Insurer):
        if session.exec(select(model)).first() is not None:
            raise SeedError(
                f"database is not empty (table {model.__tablename__!s} has rows); "
                "seed_demo only fills a freshly migrated database"
            )


def _seed_catalogue(session: Session, rng: random.Random) -> Catalogue:
    products = {code: Product(code=code, name=name) for code, name in PRODUCTS}
    insurers = [Insurer(name=s.name, short_name=s.short_name, reachable=s.reachable)
                for s in INSURERS]
    session.add_all([*products.values(), *insurers])
    session.flush()
    covering: dict[str, list[int]] = {code: [] for code in products}
    contacts: list[InsurerContact] = []
    for spec, insurer in zip(INSURERS, insurers, strict=True):
        assert insurer.id is not None
        for code in spec.products.split():
            product_id = products[code].id
            assert product_id is not None
            person = f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}"
            contacts.append(InsurerContact(
                insurer_id=insurer.id, product_id=product_id,
                name=f"{person} (Underwriting {DEPARTMENT[code]})",
                email=f"{spec.mailbox.format(code=code.lower())}@{spec.domain}", locale=spec.locale,
            ))
            covering[code].append(insurer.id)
    session.add_all(contacts)
    product_ids = {code: p.id for code, p in products.items() if p.id is not None}
    reachable = {i.id for i in insurers if i.reachable and i.id is not None}
    return Catalogue(product_ids=product_ids, product_names=dict(PRODUCTS), covering=covering,
                      reachable=reachable)


def _seed_account(session: Session, *, name: str, need_release: bool, fast_timers: bool,
                  phone: str, brokers: Sequence[BrokerSpec], users: Sequence[UserSpec],
                  cities: tuple[tuple[str, tuple[str, ...]], ...],
                  logins: list[tuple[str, str, str]]) -> AccountRef:
    if fast_timers:
        offsets, deadline, validity = [60.0, 120.0], 300.0, 600.0
    else:
        offsets, deadline, validity = [3 * DAY_S, 7 * DAY_S], 14 * DAY_S, 60 * DAY_S
    account = Account(name=name, offers_need_release=need_release, reminder_offsets_s=offsets,
                      response_deadline_s=deadline, offer_validity_s=validity,
                      contact_phone=phone, business_days=not fast_timers)
    session.add(account)
    session.flush()
    assert account.id is not None
    broker_rows = [Broker(account_id=account.id, name=b.name, company=b.company, email=b.email,
                          phone=b.phone, city=b.city) for b in brokers]
    session.add_all(broker_rows)
    session.flush()
    user_rows: list[User] = []
    for u in users:
        broker_id = broker_rows[u.broker_index].id if u.broker_index is not None else None
        user_rows.append(User(account_id=account.id, email=u.email, name=u.name, role=u.role,
                              broker_id=broker_id, password_hash=hash_password(u.password)))
        logins.append((u.email, u.password, u.role.value))
    session.add_all(user_rows)
    session.flush()
    by_broker = {u.broker_id: u.id for u in user_rows if u.broker_id is not None}
    refs = [BrokerRef(id=b.id, spec=spec, user_id=by_broker.get(b.id))
            for b, spec in zip(broker_rows, brokers, strict=True) if b.id is not None]
    staff = [u.id for u in user_rows if u.role == Role.BACKOFFICE and u.id is not None]
    return AccountRef(id=account.id, brokers=refs, backoffice_ids=staff, cities=cities)


def _seed_recommendations(session: Session, rng: random.Random, cat: Catalogue,
                          account_id: int) -> None:
    rows: list[Recommendation] = []
    for code, product_id in cat.product_ids.items():
        candidates = [i for i in cat.covering[code] if i in cat.reachable]
        for insurer_id in rng.sample(candidates, min(len(candidates), rng.randint(3, 4))):
            rows.append(Recommendation(account_id=account_id, product_id=product_id,
                                       insurer_id=insurer_id))
    session.add_all(rows)


@dataclass
class _StoredFile:
    storage_key: str
    sha256: str
    size: int


def _document_rows(settings: Settings, cat: Catalogue, plans: list[RequestPlan],
                   holders: list[Holder]) -> list[dict[str, Any]]:
    """Render (within :data:`PDF_BUDGET`) and store the PDFs; return Document rows."""
    budget = PDF_BUDGET
    pool: dict[tuple[str, str], list[_StoredFile]] = {}
    rows: list[dict[str, Any]] = []
    for plan in plans:
        holder = holders[plan.holder_index]
        for n, doc in enumerate(plan.docs):
            available = pool.get(doc.pool_key, [])
            stored: _StoredFile | None = None
            if budget > 0:
                meta = [
                    ("Anfrage-Nr.", plan.number),
                    ("Eingang", plan.created_at.strftime("%d.%m.%Y %H:%M")),
                    ("Produkt", cat.product_names[plan.product]),
                    ("Gewerbe", plan.trade.trade),
                    ("Versicherungsnehmer", f"{holder.name} {holder.legal_form}"),
                    ("Anschrift", f"{holder.street}, {holder.postcode} {holder.city}"),
                    ("Vermittler", f"{plan.broker.spec.company} ({plan.broker.spec.name})"),
                ]
                data = render_pdf(f"{doc.title} {plan.number}", plan.created_at, meta,
                                  doc.sections)
                key, sha = store_bytes(settings, data)
                stored = _StoredFile(key, sha, len(data))
                pool.setdefault(doc.pool_key, []).append(stored)
                budget -= 1
            elif available:
                stored = available[plan.id % len(available)]
            if stored is None:
                continue  # an optional document of a kind never rendered: leave it out
            rows.append({
                "request_id": plan.id,
                "tender_id": None,
                "kind": DocumentKind.REQUEST,
                "filename": f"{doc.stem}_{plan.number}.pdf",
                "content_type": PDF_CONTENT_TYPE,
                "size_bytes": stored.size,
                "sha256": stored.sha256,
                "storage_key": stored.storage_key,
                "uploaded_by": Party.BROKER,
                "uploaded_by_user_id": plan.broker.user_id,
                "created_at": plan.created_at + timedelta(minutes=2 + n),
            })
    return rows


def _write_requests(session: Session, settings: Settings, cat: Catalogue,
                    plans: list[RequestPlan], holders: list[Holder]) -> tuple[int, int]:
    conn = session.connection()
    holder_ids = _insert_returning_ids(conn, Policyholder, [
        {
            "account_id": h.account_id, "name": h.name, "legal_form": h.legal_form,
            "street": h.street, "postcode": h.postcode, "city": h.city, "state": CITY_STATES.get(h.city, ""),
            "founded_year": h.founded_year, "employees": h.employees,
            "annual_revenue_eur": h.revenue,
        }
        for h in holders
    ])
    request_ids = _insert_returning_ids(conn, Request, [
        {
            "number": p.number, "account_id": p.account.id, "broker_id": p.broker.id,
            "policyholder_id": holder_ids[p.holder_index], "product_id": cat.product_ids[p.product],
            "trade": p.trade.trade, "status": RequestStatus.OPEN, "assignee_id": p.assignee_id,
            "self_handled": p.self_handled, "answers": p.risk.answers,
            "created_at": p.created_at,
            "updated_at": p.created_at + timedelta(minutes=5),
        }
        for p in plans
    ])
    for plan, request_id in zip(plans, request_ids, strict=True):
        plan.id = request_id
    reasons = [
        {"request_id": p.id, "insurer_id": insurer_id, "reason": reason}
        for p in plans for insurer_id, reason in p.reasons
    ]
    _insert(conn, ReferralReason, reasons)
    documents = _document_rows(settings, cat, plans, holders)
    _insert(conn, Document, documents)
    return len(reasons), len(documents)


def seed_demo(engine: Engine, settings: Settings, *, requests: int = 30,
              fast_timers: bool = False, seed: int = DEFAULT_SEED,
              now: datetime | None = None) -> list[tuple[str, str, str]]:
    """Fill an empty, migrated database with demo data; return the logins
    as ``(email, password, role)``.

    ``requests`` open requests go to the main account (two more to the second
    account). ``fast_timers`` shortens reminders, deadline and offer validity
    to minutes so a demo shows timers firing. ``seed`` and ``now`` (default:
    the current time) fix the output. Raises :class:`SeedError` if the
    database already holds data.
    """
    if requests < 0:
        raise ValueError("requests must not be negative")
    rng = random.Random(seed)
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    logins: list[tuple[str, str, str]] = []
    with session_scope(engine) as session:
        _ensure_empty(session)
        cat = _seed_catalogue(session, rng)
        main = _seed_account(session, name=MAIN_ACCOUNT_NAME, need_release=True,
                             fast_timers=fast_timers, phone="040 66969 100",
                             brokers=MAIN_BROKERS, users=MAIN_USERS, cities=CITIES_NORTH,
                             logins=logins)
        second = _seed_account(session, name=SECOND_ACCOUNT_NAME, need_release=False,
                               fast_timers=fast_timers, phone="089 99998 200",
                               brokers=(SECOND_BROKER,), users=SECOND_USERS,
                               cities=CITIES_SOUTH, logins=logins)
        _seed_recommendations(session, rng, cat, main.id)
        session.flush()

        holders: list[Holder] = []
        plans = plan_requests(rng, cat, main, requests, now, holders,
                               self_handled=max(2, round(requests / 15)) if requests else 0,
                               assign_share=0.35)
        plans += plan_requests(rng, cat, second, 2, now, holders, self_handled=0,
                                assign_share=0.5)
        for seq, plan in enumerate(plans, start=1):
            plan.number = f"{REQUEST_NUMBER_PREFIX}-{now.year}-{seq:05d}"
        n_reasons, n_docs = _write_requests(session, settings, cat, plans, holders)
    log.info(
        "seeded demo data: %d requests, %d policyholders, %d referral reasons, %d documents",
        len(plans), len(holders), n_reasons, n_docs,
    )
    return logins


__all__ = [
    "ADMIN_PASSWORD", "DEFAULT_SEED", "DEMO_PASSWORD", "MAIN_ACCOUNT_NAME", "PDF_BUDGET",
    "PRODUCTS", "SECOND_ACCOUNT_NAME", "SeedError", "render_pdf", "seed_demo",
]
