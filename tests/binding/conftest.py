"""Fixtures for release and binding tests: the shared Temporal fixtures, plus
cleanup of binding and mail workflows so none keeps running on the shared servers."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ..conftest import Running
from .helpers import finish_leftovers


@pytest.fixture
async def bts(ts: Running) -> AsyncIterator[Running]:
    """``ts`` (time-skipping server, SQLite, loopback SMTP) with cleanup of binding and mail workflows."""
    yield ts
    await finish_leftovers(ts)


@pytest.fixture
async def bdev(dev: Running) -> AsyncIterator[Running]:
    """``dev`` (real dev server, SQLite and PostgreSQL) with cleanup of binding and mail workflows."""
    yield dev
    await finish_leftovers(dev)
