"""``Idempotency-Key`` on every API POST: the same request twice does one thing.

The caller names each POST with a key of its own. Its answer is stored under
(API key, Idempotency-Key) with a hash of the method, path and body: sent
again with the same body, the stored answer comes back (header
``Idempotent-Replayed: true``) and nothing happens twice; with another body,
422. Answers that a retry may change are not stored: 5xx (Temporal
unreachable) and 202 (an update still being processed). The key also seeds
the action's own update ID (:func:`action_id_for`), so even two copies that
race past the lookup reach the workflow as one update.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Header
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select
from starlette.responses import JSONResponse

from tenderdesk.db.models import IdempotencyRecord
from web.api.keys import ApiPrincipal
from web.core import i18n

IdempotencyKey = Annotated[str, Header(
    alias="Idempotency-Key", min_length=8, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$",
    description="A key of the caller's choice per operation (e.g. a UUID); a retry sends the same key.",
)]
#: Answers that are final and therefore replayed.
_STORED = range(200, 500)


def action_id_for(principal: ApiPrincipal, key: str) -> str:
    """The update ID (32 hex) of the action behind this POST."""
    return hashlib.sha256(f"api:{principal.key.id}:{key}".encode()).hexdigest()[:32]


def _fingerprint(method: str, path: str, body: Any) -> str:
    return hashlib.sha256(json.dumps([method, path, body], sort_keys=True, default=str).encode()).hexdigest()


def _stored(engine: Engine, principal: ApiPrincipal, key: str) -> IdempotencyRecord | None:
    with Session(engine) as db:
        return db.exec(select(IdempotencyRecord).where(IdempotencyRecord.api_key_id == principal.key.id)
                       .where(IdempotencyRecord.key == key)).first()


def _replay(record: IdempotencyRecord, fingerprint: str) -> JSONResponse:
    if record.request_hash != fingerprint:
        return JSONResponse({"detail": i18n.t("api.idempotency_mismatch")}, status_code=422)
    return JSONResponse(json.loads(record.body), status_code=record.status_code,
                        headers={"Idempotent-Replayed": "true"})


def once(engine: Engine, principal: ApiPrincipal, key: str, *, method: str, path: str, body: Any,
         run: Callable[[], tuple[int, Any]]) -> JSONResponse:
    """The stored answer to this key, or ``run()``'s (stored when final)."""
    fingerprint = _fingerprint(method, path, body)
    record = _stored(engine, principal, key)
    if record is not None:
        return _replay(record, fingerprint)
    status_code, content = run()
    if status_code in _STORED and status_code != 202:
        try:
            with Session(engine) as db:
                db.add(IdempotencyRecord(api_key_id=principal.key.id, key=key,  # type: ignore[arg-type]
                                         request_hash=fingerprint, status_code=status_code,
                                         body=json.dumps(content, default=str)))
                db.commit()
        except IntegrityError:
            # The same key raced us here: the first stored answer is the answer.
            record = _stored(engine, principal, key)
            if record is not None:
                return _replay(record, fingerprint)
    return JSONResponse(content, status_code=status_code)


__all__ = ["IdempotencyKey", "action_id_for", "once"]
