"""The REST API at /api/v1: flask-smorest blueprints over the same services the pages call.

Errors are answered by web.errors (JSON under /api/), so the API and the pages share one set of
handlers; flask-smorest's own handler is switched off."""
from __future__ import annotations

from flask import Flask, request
from flask_smorest import Api

from web.schemas.common import ErrorSchema

PREFIX = "/api/v1"
PUBLIC_ENDPOINTS = {"api-docs.openapi_json", "api_docs_page.docs"}


class KaoheApi(Api):
    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        """web.errors handles every error, as JSON for API paths."""


def _blueprints():
    from web.api import audit, instances, jobs, org, processes, results, tasks, tokens, tracking
    return [tasks.blp, instances.blp, processes.blp, results.blp, tracking.blp, org.blp, audit.blp, tokens.blp,
            jobs.blp]


def init_app(app: Flask) -> None:
    from web import csrf
    from web.api import auth, docs

    app.config.update(
        API_TITLE="kaohe 考核 API", API_VERSION="v1", OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX=PREFIX, OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": "Everything the pages do, for scripts and other systems. Sign in with "
                                    "`Authorization: Bearer <token>` (tokens are issued by an administrator) "
                                    "or with the browser session plus the `X-CSRFToken` header."},
            "security": [{"bearerAuth": []}, {"cookieAuth": []}],
            "components": {"securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "session"}}},
        },
    )
    api = KaoheApi(app)
    names = set()
    for blp in _blueprints():
        api.register_blueprint(blp, url_prefix=PREFIX + (blp.url_prefix or ""))
        csrf.exempt(blp)
        names.add(blp.name)

    @app.before_request
    def authenticate_api_call():
        if request.blueprint in names and request.endpoint not in PUBLIC_ENDPOINTS:
            auth.authenticate()

    app.register_blueprint(docs.bp)
    app.extensions["kaohe_api"] = api
