"""The FastAPI application: backoffice pages, broker pages and insurer link pages.

``create_app`` takes its dependencies (settings, database engine, a Temporal
client factory) so tests can run the real app against their own database and
Temporal test server. ``web.app:app`` is what uvicorn serves; it is built on
first access, so importing this module has no side effects.

The app starts without Temporal: lists and detail pages read the database,
and the Temporal client is connected on the first action that needs it.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from anyio import to_thread
from fastapi import Depends, FastAPI
from sqlalchemy.engine import Engine
from starlette.staticfiles import StaticFiles

from tenderdesk.config import Settings, get_settings, refuse_insecure
from tenderdesk.db.engine import get_engine
from web.analytics import routes as analytics
from web.api import docs as api_docs
from web.api import manage as api_keys
from web.api import routes as api
from web.auth import reset
from web.auth import routes as auth
from web.auth.throttle import LoginThrottle
from web.bulk import routes as bulk
from web.core import i18n
from web.core.errors import install_error_handlers
from web.core.headers import BodySizeLimitMiddleware, SecurityHeadersMiddleware
from web.core.logging import RequestIdMiddleware, bind_route_ids, install_token_redaction
from web.core.metrics import HttpMetricsMiddleware, registry_for
from web.core.sessions import is_https
from web.core.templating import Pages, warm_templates
from web.core.temporal import TemporalClientFactory, TemporalConnector, default_factory
from web.dashboard import routes as dashboard
from web.documents import removal as document_removal
from web.documents import routes as documents
from web.help import routes as contact
from web.insurer import link as insurer_links
from web.insurer import routes as insurer_link
from web.live import routes as live
from web.messages import routes as messages_ui
from web.messages import section as messages_section
from web.offers import add_offer, bind, comparison, expiring, views
from web.offers import routes as offers_ui
from web.ops import routes as ops
from web.requests import routes as requests
from web.tenders import contact as tender_contact
from web.tenders import routes as tender_actions
from web.tenders import set_update_timeout
from web.tenders import wizard as add_tenders

STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app(
    settings: Settings | None = None,
    engine: Engine | None = None,
    temporal_client_factory: TemporalClientFactory | None = None,
) -> FastAPI:
    settings = settings or get_settings()
    refuse_insecure(settings)
    engine = engine if engine is not None else get_engine(settings.database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # uvicorn configures logging before serving; attach the filter again
        # in case its handlers were replaced after the app was built.
        install_token_redaction(log_format=settings.log_format)
        # Routes are plain ``def``s; each waits for Temporal in its thread.
        to_thread.current_default_thread_limiter().total_tokens = settings.web_threads
        await to_thread.run_sync(warm_templates)
        yield

    app = FastAPI(
        title="Tenderdesk",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
        dependencies=[Depends(bind_route_ids)],
    )
    app.state.settings = settings
    set_update_timeout(settings.update_timeout_s)
    app.state.engine = engine
    app.state.upload_slots = threading.BoundedSemaphore(settings.upload_slots)
    app.state.pages = Pages(settings)
    app.state.login_throttle = LoginThrottle()
    app.state.temporal = TemporalConnector(temporal_client_factory or default_factory(settings))
    app.state.metrics = registry_for(engine)
    # The request page's feature sections (Nachrichten, Angebote), wired here so
    # web.requests needs to know neither feature.
    app.state.request_sections = [messages_section.messaging_extras, views.offers_extras]

    app.add_middleware(BodySizeLimitMiddleware, upload_max_bytes=5 * settings.max_upload_bytes + 1024 * 1024)
    app.add_middleware(i18n.LocaleMiddleware)
    # Added last, so it wraps everything and also marks the size-limit refusals.
    app.add_middleware(SecurityHeadersMiddleware, https=is_https(settings))
    app.add_middleware(HttpMetricsMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_error_handlers(app)
    insurer_links.install_link_errors(app)
    for module in (
        auth, reset, dashboard, requests, tender_actions, tender_contact, add_tenders, documents, document_removal,
        insurer_link, contact, bulk, ops, live, messages_ui, offers_ui, add_offer, expiring, bind, analytics,
        comparison, api, api_docs, api_keys,
    ):
        app.include_router(module.router)
    install_token_redaction(log_format=settings.log_format)
    return app


_app: FastAPI | None = None


def __getattr__(name: str) -> FastAPI:
    """``web.app.app``: the app for uvicorn, built from the environment on first use."""
    global _app
    if name != "app":
        raise AttributeError(name)
    if _app is None:
        _app = create_app()
    return _app
