"""Schemathesis against the API's own OpenAPI schema (in the test command):
generated valid and schema-violating requests, authenticated with a
read-write key, must never crash the app (500) and every answer must match
the schema (status code, content type, body, headers).

schemathesis' ``negative_data_rejection`` check is not used: it counts a
request as invalid by the mutation it planned, and two of its plans do not
survive here (the key header it wanted to drop is the one this test sets on
every call, and an unknown query key with an empty value is not serialised),
so it reported valid requests answered 200 as failures. That invalid input
is refused is asserted in test_api.py (422 with the field named).

Temporal is not reachable here (a closed port), so POSTs that would start
or update a workflow answer 503 "nothing was done", which the schema
declares; the POSTs with a real workflow are in test_api.py."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tenderdesk.config import Settings
from web.api.keys import create_api_key
from web.api.routes import router as api_router
from web.app import create_app
from web.core.temporal import TemporalClientFactory

from .conftest import user_by_email

CHECKS = [status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]


@dataclass
class FuzzTarget:
    app: FastAPI
    key: str


@pytest.fixture
def fuzz_target(web_settings: Settings, web_engine: Engine, no_temporal: TemporalClientFactory) -> Iterator[FuzzTarget]:
    app = create_app(web_settings, web_engine, temporal_client_factory=no_temporal)
    with Session(web_engine, expire_on_commit=False) as db:
        _, key = create_api_key(db, user=user_by_email(web_engine, "admin@tenderdesk.example"), name="fuzz",
                                scopes=["read", "write"])
    yield FuzzTarget(app, key)


#: Every API operation, as schemathesis labels them.
OPERATIONS = sorted(f"{method} {route.path}" for route in api_router.routes
                    for method in getattr(route, "methods", ()) if route.path.startswith("/api/v1"))


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
@pytest.mark.parametrize("label", OPERATIONS)
def test_api_never_crashes_and_keeps_its_schema(fuzz_target: FuzzTarget, label: str, mode: GenerationMode) -> None:
    """Hypothesis drives schemathesis' strategy for one operation; each case is
    sent through the ASGI app and checked against the schema."""
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", fuzz_target.app)
    operation = schema.find_operation_by_label(label)
    assert operation is not None, label
    auth = {"Authorization": f"Bearer {fuzz_target.key}"}

    @given(case=operation.as_strategy(mode))
    # derandomize: the same cases on every run, so a CI result can be reproduced;
    # to explore further, run it locally with derandomize=False and more examples.
    @settings(max_examples=30, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        response = case.call(headers=auth)
        assert response.status_code != 500, response.text
        case.validate_response(response, checks=CHECKS, headers=auth)

    check()
