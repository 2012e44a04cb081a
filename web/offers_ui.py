"""Placeholder: the feature's routes and request-page context."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlmodel import Session

from tenderdesk.settings import Settings
from web.sessions import Login

router = APIRouter()


def offers_extras(db: Session, settings: Settings, login: Login, view: Any) -> dict[str, Any]:
    return {}
