"""Demo seed, password hashing and document storage, on SQLite and PostgreSQL.

The PostgreSQL variant creates a throwaway database on 127.0.0.1:5432 (user
``postgres``, trust auth) and drops it afterwards; it is skipped only when that
server cannot be reached.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from argon2 import PasswordHasher
from psycopg import sql
from pypdf import PdfReader
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, func, select

from tenderdesk.config import Settings
from tenderdesk.db.engine import make_engine, migrate
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
    Tender,
    User,
)
from tenderdesk.demo.seed import (
    MAIN_ACCOUNT_NAME,
    PDF_BUDGET,
    SECOND_ACCOUNT_NAME,
    SeedError,
    seed_demo,
)
from tenderdesk.documents.storage import open_path, store_bytes
from tenderdesk.security.passwords import hash_password, needs_rehash, verify_password

NOW = datetime(2026, 3, 15, 9, 30, tzinfo=UTC)
DAY = 86400.0
PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3"
NUMBER_RE = re.compile(r"^MA-2026-\d{5}$")
LOGIN_DOMAINS = ("@tenderdesk.example", "@example.com")


@dataclass
class Seeded:
    engine: Engine
    settings: Settings
    logins: list[tuple[str, str, str]]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'seed.db'}"
        return
    try:
        admin = psycopg.connect(PG_ADMIN_DSN, autocommit=True)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 is unreachable: {exc}")
    name = f"td_seed_{secrets.token_hex(6)}"
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            yield f"postgresql://postgres@127.0.0.1:5432/{name}"
        finally:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="module")
def seeded(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """The default demo data set (30 requests), seeded once per backend."""
    migrate(database_url)
    engine = make_engine(database_url)
    settings = Settings(database_url=database_url,
                        storage_dir=tmp_path_factory.mktemp("documents"))
    logins = seed_demo(engine, settings, now=NOW)
    try:
        yield Seeded(engine, settings, logins)
    finally:
        engine.dispose()


def _sqlite(tmp_path: Path, name: str) -> tuple[Engine, Settings]:
    url = f"sqlite:///{tmp_path / f'{name}.db'}"
    migrate(url)
    return make_engine(url), Settings(database_url=url, storage_dir=tmp_path / f"{name}-docs")


def _count(session: Session, model: type[SQLModel]) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def _main_account(session: Session) -> Account:
    return session.exec(select(Account).where(Account.name == MAIN_ACCOUNT_NAME)).one()


# --------------------------------------------------------------------------- seed, both backends


def test_counts_and_account_settings(seeded: Seeded) -> None:
    with Session(seeded.engine) as session:
        accounts = {a.name: a for a in session.exec(select(Account)).all()}
        assert set(accounts) == {MAIN_ACCOUNT_NAME, SECOND_ACCOUNT_NAME}
        main = accounts[MAIN_ACCOUNT_NAME]
        assert main.offers_need_release is True
        assert main.reminder_offsets_s == [3 * DAY, 7 * DAY]
        assert main.response_deadline_s == 14 * DAY
        assert main.offer_validity_s == 60 * DAY

        codes = set(session.exec(select(Product.code)).all())
        assert {"BHV", "INH", "CYB", "VSH"} <= codes and 4 <= len(codes) <= 5
        insurers = session.exec(select(Insurer)).all()
        assert 10 <= len(insurers) <= 14
        assert 1 <= sum(not i.reachable for i in insurers) <= 2
        assert _count(session, Broker) == 9
        assert _count(session, User) == 7
        assert _count(session, Tender) == 0  # tenders are the product's job

        requests = session.exec(select(Request)).all()
        main_requests = [r for r in requests if r.account_id == main.id]
        assert len(main_requests) == 30
        assert len(requests) == 32
        assert {r.status for r in requests} == {RequestStatus.OPEN}
        assert sum(r.self_handled for r in main_requests) == 2
        assigned = [r for r in main_requests if r.assignee_id is not None]
        assert 0 < len(assigned) < len(main_requests) / 2
        assert not any(r.assignee_id for r in main_requests if r.self_handled)
        assert {r.product_id for r in main_requests} == set(session.exec(select(Product.id)).all())
        assert 0 < _count(session, Policyholder) <= len(requests)

        reasons = Counter(session.exec(select(ReferralReason.request_id)).all())
        docs = Counter(session.exec(select(Document.request_id)).all())
        for r in requests:
            assert r.id is not None
            assert 1 <= reasons[r.id] <= 4
            assert 1 <= docs[r.id] <= 2
            created = r.created_at
            assert created is not None and NOW - timedelta(days=30) <= created <= NOW


def test_logins_verify_and_are_linked(seeded: Seeded) -> None:
    roles = Counter(role for _, _, role in seeded.logins)
    assert roles == {Role.BACKOFFICE.value: 4, Role.ADMIN.value: 1, Role.BROKER.value: 2}
    assert ("anna.berger@tenderdesk.example", "Elbe-Demo-2026!", "backoffice") in seeded.logins
    with Session(seeded.engine) as session:
        main = _main_account(session)
        for email, password, role in seeded.logins:
            assert email.endswith(LOGIN_DOMAINS)
            user = session.exec(select(User).where(User.email == email)).one()
            assert user.role == Role(role)
            assert user.password_hash.startswith("$argon2id$")
            assert verify_password(user.password_hash, password)
            assert not verify_password(user.password_hash, password + "x")
            if user.role == Role.BROKER:
                assert user.broker_id is not None
                broker = session.get(Broker, user.broker_id)
                assert broker is not None and broker.account_id == user.account_id == main.id
                assert broker.email == user.email
            else:
                assert user.broker_id is None
        second_users = session.exec(select(User).where(User.account_id != main.id)).all()
        assert [u.role for u in second_users] == [Role.BACKOFFICE]


def test_insurer_contacts_and_recommendations(seeded: Seeded) -> None:
    with Session(seeded.engine) as session:
        insurers = {i.id: i for i in session.exec(select(Insurer)).all()}
        products = session.exec(select(Product)).all()
        contacts = session.exec(select(InsurerContact)).all()
        covered = {(c.insurer_id, c.product_id) for c in contacts}
        assert len(covered) == len(contacts)
        assert len(contacts) < len(insurers) * len(products)
        for product in products:
            # the "not relevant" case exists for every product, and enough insurers are relevant
            missing = [i for i in insurers if (i, product.id) not in covered]
            assert missing, product.code
            assert len(insurers) - len(missing) >= 4, product.code
        for c in contacts:
            domain = c.email.rpartition("@")[2]
            assert domain.endswith(".example"), c.email
        assert all(i.short_name in i.name for i in insurers.values())

        main = _main_account(session)
        recs = session.exec(select(Recommendation)).all()
        assert {r.account_id for r in recs} == {main.id}
        per_product = Counter(r.product_id for r in recs)
        assert {p.id for p in products} == set(per_product)
        assert all(3 <= n <= 4 for n in per_product.values())
        for r in recs:
            assert (r.insurer_id, r.product_id) in covered
            assert insurers[r.insurer_id].reachable


def test_requests_numbers_and_ownership(seeded: Seeded) -> None:
    with Session(seeded.engine) as session:
        requests = session.exec(select(Request).order_by(col(Request.id))).all()
        numbers = [r.number for r in requests]
        assert len(set(numbers)) == len(numbers)
        assert all(NUMBER_RE.match(n) for n in numbers)
        assert sorted(numbers) == [f"MA-2026-{i:05d}" for i in range(1, len(requests) + 1)]
        brokers = {b.id: b for b in session.exec(select(Broker)).all()}
        holders = {p.id: p for p in session.exec(select(Policyholder)).all()}
        users = {u.id: u for u in session.exec(select(User)).all()}
        for r in requests:
            assert brokers[r.broker_id].account_id == r.account_id
            assert holders[r.policyholder_id].account_id == r.account_id
            if r.assignee_id is not None:
                assignee = users[r.assignee_id]
                assert assignee.account_id == r.account_id
                assert assignee.role == Role.BACKOFFICE
        second = [r for r in requests if r.account_id != _main_account(session).id]
        assert len(second) == 2


def test_answers_match_product(seeded: Seeded) -> None:
    expected = {
        "BHV": ("Versicherungsschutz", "Deckungssumme"),
        "INH": ("Sicherungen", "Einbruchmeldeanlage"),
        "CYB": ("IT-Sicherheit", "MFA"),
        "VSH": ("Betrieb", "Berufsgruppe"),
        "ELE": ("Versicherungsschutz", "Versicherte Geräte"),
    }
    with Session(seeded.engine) as session:
        codes = {p.id: p.code for p in session.exec(select(Product)).all()}
        for r in session.exec(select(Request)).all():
            answers: dict[str, Any] = r.answers
            assert {"Betrieb", "Vorschäden", "Versicherungsschutz"} <= set(answers)
            section, question = expected[codes[r.product_id]]
            assert question in answers[section], (r.number, answers)
            if codes[r.product_id] == "CYB":
                assert "Backups" in answers["IT-Sicherheit"]
            if codes[r.product_id] == "INH":
                assert answers["Versicherungsschutz"]["Versicherungssumme"].endswith(" €")
            assert all(isinstance(v, str) for s in answers.values() for v in s.values())


def test_referral_reasons_name_relevant_insurers(seeded: Seeded) -> None:
    with Session(seeded.engine) as session:
        covered = set(session.exec(select(InsurerContact.insurer_id, InsurerContact.product_id))
                      .all())
        products = {r.id: r.product_id for r in session.exec(select(Request)).all()}
        by_request: dict[int, list[int]] = {}
        for reason in session.exec(select(ReferralReason)).all():
            assert reason.reason.strip()
            assert (reason.insurer_id, products[reason.request_id]) in covered
            by_request.setdefault(reason.request_id, []).append(reason.insurer_id)
        assert all(len(set(ids)) == len(ids) for ids in by_request.values())
        texts = set(session.exec(select(ReferralReason.reason)).all())
        assert len(texts) >= 8


def test_documents_are_stored_pdfs(seeded: Seeded) -> None:
    with Session(seeded.engine) as session:
        numbers = {r.id: r.number for r in session.exec(select(Request)).all()}
        docs = session.exec(select(Document)).all()
        assert len({d.sha256 for d in docs}) == len(docs) <= PDF_BUDGET  # all real at 30
        for doc in docs:
            number = numbers[doc.request_id]
            assert doc.kind == DocumentKind.REQUEST
            assert doc.uploaded_by == Party.BROKER
            assert doc.content_type == "application/pdf"
            assert doc.filename.endswith(f"_{number}.pdf")
            assert doc.storage_key == f"{doc.sha256[:2]}/{doc.sha256}"
            path = open_path(seeded.settings, doc.storage_key)
            data = path.read_bytes()
            assert len(data) == doc.size_bytes
            assert hashlib.sha256(data).hexdigest() == doc.sha256
            reader = PdfReader(path)
            text = "\n".join(page.extract_text() for page in reader.pages)
            assert number in text
            if doc.filename.startswith("Risikofragebogen_"):
                assert "Versicherungsschutz" in text
        assert {d.request_id for d in docs if d.filename.startswith("Risikofragebogen_")} \
            == set(numbers)


def test_refuses_a_database_with_data(seeded: Seeded) -> None:
    with pytest.raises(SeedError):
        seed_demo(seeded.engine, seeded.settings, now=NOW)
    with Session(seeded.engine) as session:
        assert _count(session, Account) == 2
        assert _count(session, Request) == 32


# --------------------------------------------------------------------------- seed, SQLite only


def _snapshot(engine: Engine) -> list[Any]:
    with Session(engine) as session:
        requests = [
            (r.number, r.trade, r.broker_id, r.product_id, r.assignee_id, r.self_handled,
             r.answers, r.created_at)
            for r in session.exec(select(Request).order_by(Request.number)).all()
        ]
        reasons = sorted(session.exec(select(ReferralReason.request_id, ReferralReason.insurer_id,
                                             ReferralReason.reason)).all())
        docs = sorted(session.exec(select(Document.filename, Document.sha256)).all())
        holders = sorted(session.exec(select(Policyholder.name, Policyholder.street)).all())
    return [requests, reasons, docs, holders]


def test_seed_is_deterministic(tmp_path: Path) -> None:
    engine_a, settings_a = _sqlite(tmp_path, "a")
    engine_b, settings_b = _sqlite(tmp_path, "b")
    logins_a = seed_demo(engine_a, settings_a, requests=8, now=NOW)
    logins_b = seed_demo(engine_b, settings_b, requests=8, now=NOW)
    assert logins_a == logins_b
    assert _snapshot(engine_a) == _snapshot(engine_b)  # PDFs byte-identical too (same sha)
    engine_c, settings_c = _sqlite(tmp_path, "c")
    seed_demo(engine_c, settings_c, requests=8, now=NOW, seed=7)
    assert _snapshot(engine_c) != _snapshot(engine_a)


def test_fast_timers_and_no_main_requests(tmp_path: Path) -> None:
    engine, settings = _sqlite(tmp_path, "fast")
    seed_demo(engine, settings, requests=0, fast_timers=True, now=NOW)
    with Session(engine) as session:
        main = _main_account(session)
        assert main.reminder_offsets_s == [60.0, 120.0]
        assert main.response_deadline_s == 300.0
        assert main.offer_validity_s == 600.0
        assert session.exec(select(Request).where(Request.account_id == main.id)).all() == []
        assert _count(session, Request) == 2  # the second account's


def test_bulk_seed_caps_distinct_pdfs(tmp_path: Path) -> None:
    engine, settings = _sqlite(tmp_path, "bulk")
    seed_demo(engine, settings, requests=400, now=NOW)
    with Session(engine) as session:
        assert _count(session, Request) == 402
        docs = session.exec(select(Document)).all()
        assert len(docs) >= 402
        assert len({d.sha256 for d in docs}) <= PDF_BUDGET
        questionnaires = {d.request_id for d in docs if d.filename.startswith("Risikofragebogen_")}
        assert len(questionnaires) == 402
        numbers = session.exec(select(Request.number)).all()
        assert len(set(numbers)) == len(numbers)
    stored = [p for p in Path(settings.storage_dir).rglob("*") if p.is_file()]
    assert len(stored) == len({d.sha256 for d in docs})


# --------------------------------------------------------------------------- passwords, storage


def test_password_hashing() -> None:
    first, second = hash_password("geheim123!"), hash_password("geheim123!")
    assert first != second  # salted
    assert first.startswith("$argon2id$")
    assert verify_password(first, "geheim123!")
    assert not verify_password(first, "Geheim123!")
    assert not verify_password("not-a-hash", "geheim123!")
    assert not needs_rehash(first)
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("geheim123!")
    assert verify_password(weak, "geheim123!")
    assert needs_rehash(weak)


def test_storage_is_content_addressed(tmp_path: Path) -> None:
    settings = Settings(storage_dir=tmp_path / "store")
    key, sha = store_bytes(settings, b"%PDF-1.4 demo")
    assert sha == hashlib.sha256(b"%PDF-1.4 demo").hexdigest()
    assert key == f"{sha[:2]}/{sha}"
    assert store_bytes(settings, b"%PDF-1.4 demo") == (key, sha)
    assert open_path(settings, key).read_bytes() == b"%PDF-1.4 demo"
    assert [p.name for p in (tmp_path / "store").rglob("*") if p.is_file()] == [sha]
    for bad in ("../etc/passwd", f"{sha[:2]}/../{sha}", f"zz/{sha}", f"{sha[2:4]}/{sha}", sha):
        with pytest.raises(ValueError):
            open_path(settings, bad)
