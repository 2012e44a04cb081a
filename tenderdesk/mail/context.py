"""The parties of a request that almost every email names: one loader for all of them."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from tenderdesk.db.models import Account, Broker, Policyholder, Product, Request


def request_context(session: Session, request_id: int) -> dict[str, Any]:
    """``request``, ``account``, ``product``, ``policyholder`` and ``broker`` for a template."""
    request = session.get(Request, request_id)
    assert request is not None
    account = session.get(Account, request.account_id)
    product = session.get(Product, request.product_id)
    policyholder = session.get(Policyholder, request.policyholder_id)
    broker = session.get(Broker, request.broker_id)
    assert account and product and policyholder and broker
    return {"request": request, "account": account, "product": product, "policyholder": policyholder, "broker": broker}


__all__ = ["request_context"]
