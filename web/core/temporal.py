"""The Temporal client, connected on first use and shared by the app.

List pages read the database only, so the app must start and serve them while
Temporal is down; connecting lazily (not at startup) makes that so. Tests
pass a factory that returns their own client.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio.client import Client

from tenderdesk import temporal_client
from tenderdesk.config import Settings
from web.core.errors import ActionRefused

log = logging.getLogger(__name__)

#: Returns a client, directly or as an awaitable.
TemporalClientFactory = Callable[[], Awaitable[Client] | Client]


class TemporalUnavailable(ActionRefused):
    """Temporal could not be reached: nothing was done, try again shortly."""

    status_code = 503

    def __init__(self, key: str = "error.temporal_unavailable", **params: object) -> None:
        super().__init__(key, **params)


def default_factory(settings: Settings) -> TemporalClientFactory:
    async def connect() -> Client:
        return await temporal_client.connect(settings)

    return connect


class TemporalConnector:
    """Caches one client; concurrent first requests share a single connect."""

    def __init__(self, factory: TemporalClientFactory) -> None:
        self._factory = factory
        self._client: Client | None = None
        self._lock: asyncio.Lock | None = None

    async def get(self) -> Client:
        if self._client is not None:
            return self._client
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._client is None:
                try:
                    result: Any = self._factory()
                    if inspect.isawaitable(result):
                        result = await result
                except Exception as err:
                    log.warning("Temporal not reachable: %s", type(err).__name__)
                    raise TemporalUnavailable from err
                self._client = result
        assert self._client is not None
        return self._client
