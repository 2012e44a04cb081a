"""Planning the demo requests before anything is written: which broker,
policyholder, product, trade, referral reasons and documents each one gets."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tenderdesk.demo.data import (
    DAY_S,
    DOC_STEMS,
    FALLBACK_REASONS,
    PRODUCT_WEIGHTS,
    PRODUCTS,
    STREETS,
    SURNAMES,
    TRADES,
    BrokerSpec,
    Sections,
    Trade,
)
from tenderdesk.demo.risk import Holder, Risk, draw_risk, eur

# --------------------------------------------------------------------------- planning


@dataclass
class BrokerRef:
    id: int
    spec: BrokerSpec
    user_id: int | None


@dataclass
class AccountRef:
    id: int
    brokers: list[BrokerRef]
    backoffice_ids: list[int]
    cities: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass
class Catalogue:
    product_ids: dict[str, int]
    product_names: dict[str, str]
    covering: dict[str, list[int]]  # product code -> insurers with a tender address
    reachable: set[int]


@dataclass
class DocPlan:
    stem: str  # file name stem, ASCII
    title: str
    sections: Sections
    pool_key: tuple[str, str]


@dataclass
class RequestPlan:
    account: AccountRef
    broker: BrokerRef
    holder_index: int
    product: str
    trade: Trade
    created_at: datetime
    risk: Risk
    reasons: list[tuple[int, str]]
    docs: list[DocPlan]
    assignee_id: int | None = None
    self_handled: bool = False
    number: str = ""
    id: int = 0
    holder_used: set[str] = field(default_factory=set)


def _pick_trade(rng: random.Random, product: str) -> Trade:
    return rng.choice([t for t in TRADES if product in t.products])


def _new_holder(rng: random.Random, trade: Trade, account: AccountRef, now: datetime) -> Holder:
    a, b = rng.sample(SURNAMES, 2)
    city, postcodes = rng.choice(account.cities)
    employees = rng.randint(*trade.employees)
    revenue = employees * rng.randint(*trade.revenue_per_employee)
    return Holder(
        account_id=account.id,
        name=rng.choice(trade.names).format(a=a, b=b),
        legal_form=rng.choice(trade.legal_forms),
        street=f"{rng.choice(STREETS)} {rng.randint(1, 140)}{rng.choice(('', '', '', 'a', 'b'))}",
        postcode=rng.choice(postcodes),
        city=city,
        founded_year=now.year - rng.randint(1, 45),
        employees=employees,
        revenue=round(revenue, -4),
    )


def _reasons(rng: random.Random, cat: Catalogue, product: str,
             flags: list[str]) -> list[tuple[int, str]]:
    candidates = cat.covering[product]
    k = rng.randint(1, min(4, len(candidates)))
    chosen = rng.sample(candidates, k)
    # Each insurer's rules trip over something else first, so spread the reasons.
    own = rng.sample(flags, len(flags))
    out: list[tuple[int, str]] = []
    for n, insurer_id in enumerate(chosen):
        if own and rng.random() < 0.85:
            reason = own[n % len(own)]
        else:
            reason = rng.choice(FALLBACK_REASONS[product])
        out.append((insurer_id, reason))
    return out


def _docs(rng: random.Random, product: str, risk: Risk) -> list[DocPlan]:
    docs = [DocPlan("Risikofragebogen", "Risikofragebogen", risk.answers,
                     ("Risikofragebogen", product))]
    if risk.claims:
        sections: Sections = {
            f"Schaden {i}": {
                "Jahr": str(c.year), "Hergang": c.text, "Schadenaufwand": eur(c.amount),
                "Status": "abgeschlossen",
            }
            for i, c in enumerate(sorted(risk.claims, key=lambda c: c.year), start=1)
        }
        docs.append(DocPlan("Vorschadenaufstellung", "Vorschadenaufstellung", sections,
                             ("Vorschadenaufstellung", product)))
    elif rng.random() < 0.25:
        stem, title = DOC_STEMS[product]
        docs.append(DocPlan(stem, title, risk.extra_sections, (stem, product)))
    return docs


def plan_requests(rng: random.Random, cat: Catalogue, account: AccountRef, count: int,
                   now: datetime, holders: list[Holder], *, self_handled: int,
                   assign_share: float) -> list[RequestPlan]:
    """Plan ``count`` requests of one account, oldest first."""
    codes = [code for code, _ in PRODUCTS]
    weights = [PRODUCT_WEIGHTS[c] for c in codes]
    broker_weights = [b.spec.weight for b in account.brokers]
    ages = sorted((rng.uniform(0, 30 * DAY_S) for _ in range(count)), reverse=True)
    plans: list[RequestPlan] = []
    for i, age in enumerate(ages):
        created_at = (now - timedelta(seconds=age)).replace(microsecond=0)
        earlier = rng.choice(plans) if plans and i >= len(codes) else None
        reuse = earlier is not None and rng.random() < 0.12
        free = ([c for c in earlier.trade.products if c not in earlier.holder_used]
                if earlier is not None else [])
        if earlier is not None and reuse and free:
            # The same business asks for a second line (e.g. BHV, then Cyber).
            product, trade = rng.choice(free), earlier.trade
            broker, holder_index, used = earlier.broker, earlier.holder_index, earlier.holder_used
        else:
            product = codes[i] if i < len(codes) else rng.choices(codes, weights)[0]
            trade = _pick_trade(rng, product)
            broker = rng.choices(account.brokers, broker_weights)[0]
            holders.append(_new_holder(rng, trade, account, now))
            holder_index, used = len(holders) - 1, set()
        used.add(product)
        start = (created_at.date().replace(day=1) + timedelta(days=32)).replace(day=1)
        risk = draw_risk(rng, product, trade, holders[holder_index], start)
        plans.append(RequestPlan(
            account=account, broker=broker, holder_index=holder_index, product=product,
            trade=trade, created_at=created_at, risk=risk,
            reasons=_reasons(rng, cat, product, risk.flags), docs=_docs(rng, product, risk),
            holder_used=used,
        ))
    for plan in rng.sample(plans, min(self_handled, len(plans))):
        plan.self_handled = True
    staff_weights = [3] + [2] * (len(account.backoffice_ids) - 1)  # the first one a bit busier
    for plan in plans:
        if not plan.self_handled and account.backoffice_ids and rng.random() < assign_share:
            plan.assignee_id = rng.choices(account.backoffice_ids, staff_weights)[0]
    return plans

