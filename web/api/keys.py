"""API keys: made, checked and revoked here.

A key is ``td_`` and 43 random URL-safe characters, shown once when it is
made; the database keeps its SHA-256 and its first characters (``prefix``)
to name it in the list. Each key belongs to one account and has scopes:
``read`` for every GET, ``write`` for the POSTs. Requests authenticate with
``Authorization: Bearer td_…``; an unknown, revoked or malformed key, or one
whose creator is no longer active staff of the account, gets 401 and nothing
about why beyond that. What a key does is recorded as its creator's action.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session, col, select

from tenderdesk.db.models import ApiKey, User, utcnow
from tenderdesk.security.tokens import hash_token, new_token
from web.core.access import is_staff
from web.core.deps import SessionDep

KEY_PREFIX = "td_"
SCOPES = ("read", "write")
#: How much of the key the list shows.
SHOWN_CHARS = 10
#: ``last_used_at`` is written at most this often per key (no write per request).
USE_RESOLUTION = timedelta(minutes=1)
UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="tenderdesk-api"'}

bearer = HTTPBearer(auto_error=False, description="API-Schlüssel: `Authorization: Bearer td_…`")


@dataclass
class ApiPrincipal:
    key: ApiKey
    user: User

    @property
    def account_id(self) -> int:
        return self.key.account_id


def create_api_key(db: Session, *, user: User, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
    """A new key of the user's account; returns the row and the key itself (shown once)."""
    assert user.id is not None
    secret = KEY_PREFIX + new_token()
    key = ApiKey(account_id=user.account_id, name=name, prefix=secret[:SHOWN_CHARS], key_hash=hash_token(secret),
                 scopes=[s for s in SCOPES if s in scopes], created_by_id=user.id)
    db.add(key)
    db.commit()
    db.refresh(key)
    return key, secret


def account_keys(db: Session, account_id: int) -> list[ApiKey]:
    return list(db.exec(select(ApiKey).where(ApiKey.account_id == account_id).order_by(col(ApiKey.id).desc())).all())


def revoke_api_key(db: Session, *, account_id: int, key_id: int) -> bool:
    """Revoke one key of this account; False if there is none (or it is another account's)."""
    key = db.get(ApiKey, key_id)
    if key is None or key.account_id != account_id:
        return False
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        db.add(key)
        db.commit()
    return True


def api_principal(
    db: SessionDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> ApiPrincipal:
    if credentials is None or not credentials.credentials.startswith(KEY_PREFIX):
        raise HTTPException(401, headers=UNAUTHORIZED)
    key = db.exec(select(ApiKey).where(ApiKey.key_hash == hash_token(credentials.credentials))).first()
    if key is None or key.revoked_at is not None:
        raise HTTPException(401, headers=UNAUTHORIZED)
    user = db.get(User, key.created_by_id)
    if user is None or not user.is_active or user.account_id != key.account_id or not is_staff(user):
        raise HTTPException(401, headers=UNAUTHORIZED)
    now = utcnow()
    if key.last_used_at is None or now - key.last_used_at > USE_RESOLUTION:
        key.last_used_at = now
        db.add(key)
        db.commit()
        db.refresh(key)
    return ApiPrincipal(key=key, user=user)


def _scoped(scope: str) -> object:
    def check(principal: Annotated[ApiPrincipal, Depends(api_principal)]) -> ApiPrincipal:
        if scope not in principal.key.scopes:
            raise HTTPException(403)
        return principal

    return check


ReadKey = Annotated[ApiPrincipal, Depends(_scoped("read"))]
WriteKey = Annotated[ApiPrincipal, Depends(_scoped("write"))]

__all__ = [
    "KEY_PREFIX", "SCOPES", "ApiPrincipal", "ReadKey", "WriteKey", "account_keys", "api_principal",
    "create_api_key", "revoke_api_key",
]
