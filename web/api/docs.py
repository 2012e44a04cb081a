"""The API's OpenAPI schema (``/api/openapi.json``) and its documentation
(``/api/docs``), rendered on the server from that schema.

The usual Swagger UI loads its scripts from a CDN, which neither this
network nor the pages' Content-Security-Policy allow; a server-rendered page
of the same schema works everywhere, also without JavaScript. Both are
public: they describe the API, they hold no data.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi import APIRouter
from fastapi.openapi.utils import get_openapi
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response

from web.api.routes import router as api_router
from web.core import i18n
from web.core.deps import PagesDep, SettingsDep

router = APIRouter(tags=["api-docs"])
API_VERSION = "1.0.0"


@lru_cache(maxsize=4)
def openapi_schema(base_url: str) -> dict[str, Any]:
    schema = get_openapi(
        title="Tenderdesk API", version=API_VERSION, routes=api_router.routes,
        description=(
            "Anfragen, Ausschreibungen, Angebote, Dokumente und Nachrichten eines Kontos. "
            "Authentifizierung: `Authorization: Bearer td_…` (API-Schlüssel, unter „API-Schlüssel“ angelegt). "
            "Jeder POST braucht einen `Idempotency-Key`."
        ),
        servers=[{"url": base_url.rstrip("/")}],
    )
    return schema


@router.get("/api/openapi.json", include_in_schema=False)
def openapi_json(settings: SettingsDep) -> JSONResponse:
    return JSONResponse(openapi_schema(settings.base_url))


def _type_of(spec: dict[str, Any]) -> str:
    """A schema's type as a reader writes it: ``integer``, ``string | null``, ``list[CoverModule]``."""
    if "$ref" in spec:
        return str(spec["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in spec:
        return " | ".join(_type_of(s) for s in spec["anyOf"])
    if spec.get("type") == "array":
        return f"list[{_type_of(spec.get('items', {}))}]"
    if "enum" in spec:
        return " | ".join(repr(v) for v in spec["enum"])
    return str(spec.get("type", "object"))


def _models(schema: dict[str, Any]) -> list[dict[str, Any]]:
    models = []
    for name, model in sorted(schema.get("components", {}).get("schemas", {}).items()):
        required = set(model.get("required", []))
        fields = [{"name": f, "type": _type_of(spec), "required": f in required,
                   "description": spec.get("description", "")} for f, spec in model.get("properties", {}).items()]
        models.append({"name": name, "fields": fields})
    return models


def _operations(schema: dict[str, Any]) -> list[dict[str, Any]]:
    ops = []
    for path, methods in schema.get("paths", {}).items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            ops.append({
                "method": method.upper(), "path": path, "summary": op.get("summary", ""),
                "description": op.get("description", ""),
                "parameters": [{"name": p["name"], "in": p["in"], "required": bool(p.get("required")),
                                "type": _type_of(p.get("schema", {}))} for p in op.get("parameters", [])],
                "body": body.get("$ref", "").rsplit("/", 1)[-1],
                "responses": sorted(op.get("responses", {}).items()),
                "scope": "write" if method == "post" else "read",
            })
    return ops


@router.get("/api/docs", include_in_schema=False)
def api_docs(http: HttpRequest, pages: PagesDep, settings: SettingsDep) -> Response:
    schema = openapi_schema(settings.base_url)
    return pages.render(http, "api/docs.html", {
        "schema": schema, "operations": _operations(schema),
        "models": _models(schema),
        "page_title": i18n.t("title.api_docs"),
    })


__all__ = ["openapi_schema", "router"]
