"""Engine errors and HTTP errors as friendly pages in the person's language; never a traceback."""
from __future__ import annotations

import uuid

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from engine.db import is_unavailable
from engine.errors import (Conflict, DeploymentRejected, InvalidState, KaoheError, NotFound, PermissionDenied,
                           ValidationFailed)
from web.i18n import current_language

STATUS_BY_ERROR = [
    (NotFound, 404), (PermissionDenied, 403), (Conflict, 409), (InvalidState, 409),
    (ValidationFailed, 422), (DeploymentRejected, 422),
]
TITLES = {
    400: _l("请求无效"),
    401: _l("需要登录"),
    403: _l("无权访问"),
    404: _l("找不到页面"),
    405: _l("不支持此操作"),
    409: _l("操作冲突"),
    413: _l("提交的内容太大"),
    415: _l("内容类型不支持"),
    422: _l("提交内容有误"),
    429: _l("请求过于频繁"),
    500: _l("服务器出错"),
    503: _l("服务暂时不可用"),
}
HTTP_MESSAGES = {
    400: _l("请求无法处理，请返回重试。"),
    401: _l("请先登录，或提供有效的接口令牌。"),
    403: _l("你没有权限查看此页面。"),
    404: _l("你要找的页面不存在。"),
    405: _l("此页面不支持这种操作。"),
    413: _l("提交的内容超过了允许的大小。"),
    415: _l("不支持这种内容类型。"),
    422: _l("提交的内容有误，请检查标出的字段。"),
    429: _l("尝试次数过多，请稍后再试。"),
}


# Stable codes for API clients, by HTTP status (engine errors carry their own).
HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
              422: "validation_failed", 429: "too_many_requests", 500: "server_error", 503: "unavailable"}


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def api_error(status: int, code: str, message: str, *, field_errors: dict | None = None,
              details: list[str] | None = None, reference: str | None = None, headers=None):
    """The one JSON error shape (web.schemas.common.ErrorSchema)."""
    body = {"status": status, "code": code, "message": message}
    if field_errors:
        body["field_errors"] = field_errors
    if details:
        body["details"] = details
    if reference:
        body["reference"] = reference
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


LOCATIONS = ("json", "query", "form", "files", "path", "headers", "cookies")


def flatten_messages(messages, prefix: str = "", top: bool = True) -> dict[str, str]:
    """webargs' nested {"json": {"data": {"x": ["msg"]}}} as {"data.x": "msg"} (only the outermost
    key names a location; a field may itself be called "files" or "json")."""
    if isinstance(messages, dict):
        flat: dict[str, str] = {}
        for key, value in messages.items():
            key = str(key)
            path = "" if top and key in LOCATIONS else f"{prefix}.{key}" if prefix else key
            flat.update(flatten_messages(value, path, top=False))
        return flat
    if isinstance(messages, (list, tuple)):
        if all(isinstance(m, str) for m in messages):
            return {prefix or "_": "; ".join(messages)}
        flat = {}
        for message in messages:
            flat.update(flatten_messages(message, prefix, top=False))
        return flat
    return {prefix or "_": str(messages)}


def status_for(error: KaoheError) -> int:
    return next((status for cls, status in STATUS_BY_ERROR if isinstance(error, cls)), 400)


def error_page(status: int, message: str, *, details: list[str] | None = None, reference: str | None = None):
    title = TITLES.get(status, TITLES[400] if status < 500 else TITLES[500])
    return render_template("errors/error.html", status=status, title=title, message=message,
                           details=details or [], reference=reference), status


def handle_engine_error(error: KaoheError):
    language = current_language()
    details: list[str] = []
    if isinstance(error, DeploymentRejected):
        details = [problem.text(language) for problem in error.problems]
    elif isinstance(error, ValidationFailed):
        if is_api_request():
            # An import's problems (each with its file, sheet, row and column) travel as details.
            details = [problem.text(language) for problem in getattr(error, "problems", ())]
            return api_error(status_for(error), error.code, error.text(language), details=details,
                             field_errors={path: message.text(language)
                                           for path, message in error.field_errors.items()})
        details = [f"{path}: {message.text(language)}" for path, message in error.field_errors.items()]
    if is_api_request():
        return api_error(status_for(error), error.code, error.text(language), details=details)
    return error_page(status_for(error), error.text(language), details=details)


def handle_csrf_error(_error: CSRFError):
    message = str(_l("页面已过期或缺少安全令牌，请刷新页面后重试。"))
    if is_api_request():
        return api_error(400, "csrf_failed", message)
    return error_page(400, message)


def handle_http_error(error: HTTPException):
    status = error.code or 500
    if status >= 500:
        return handle_unexpected(error)
    message = str(HTTP_MESSAGES.get(status) or TITLES.get(status) or TITLES[400])
    # Only headers that tell the client what to do next: allowed methods, the auth challenge, retry time.
    headers = {k: v for k, v in error.get_headers() if k.lower() in ("allow", "www-authenticate", "retry-after")}
    if is_api_request():
        data = getattr(error, "data", None) or {}
        field_errors = flatten_messages(data["messages"]) if "messages" in data else None
        return api_error(status, HTTP_CODES.get(status, "error"), message, field_errors=field_errors,
                         headers=headers)
    response, status = error_page(status, message)
    return response, status, headers


def handle_unexpected(error: Exception):
    """Log the traceback under a short reference a person can quote to support."""
    cause = getattr(error, "original_exception", None) or error  # e.g. raised in an after_request
    if is_unavailable(cause):
        return handle_database_unavailable(cause)
    reference = uuid.uuid4().hex[:8]
    current_app.logger.error("unhandled error ref=%s on %s %s", reference, request.method, request.path,
                             exc_info=error)
    message = str(_l("系统出现意外错误，请稍后重试。如问题持续，请把参考编号告诉管理员。"))
    try:
        if is_api_request():
            return api_error(500, "server_error", message, reference=reference)
        return error_page(500, message, reference=reference)
    except Exception:  # the page itself failed (e.g. the database is down): plain text, still no traceback
        current_app.logger.exception("error page failed ref=%s", reference)
        plain = {"Content-Type": "text/plain; charset=utf-8"}
        return f"500 服务器出错 / server error. ref: {reference}", 500, plain


# How long a client should wait before trying again while the database is away.
RETRY_AFTER_SECONDS = 10


def handle_database_unavailable(error: Exception):
    """The database cannot be reached (down, restarting): nothing was done, so say "try again
    shortly" with 503 and Retry-After instead of a server error, and log one line (not a traceback
    per request while it lasts)."""
    if not is_unavailable(error):
        return handle_unexpected(error)
    current_app.logger.warning("database unavailable on %s %s: %s", request.method, request.path,
                               str(error).splitlines()[0] if str(error) else type(error).__name__)
    # The page must not ask the database who is signed in (it would fail again): show it as to a
    # visitor; the language still follows ?lang= and the cookie.
    g._login_user = current_app.login_manager.anonymous_user()
    message = str(_l("服务暂时不可用（数据库无法连接），请稍后再试。"))
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    try:
        if is_api_request():
            return api_error(503, "database_unavailable", message, headers=headers)
        response, status = error_page(503, message)
        return response, status, headers
    except Exception:  # the page itself failed: plain text, still no traceback
        current_app.logger.exception("unavailable page failed")
        plain = {"Content-Type": "text/plain; charset=utf-8", **headers}
        return f"503 服务暂时不可用 / service unavailable (database). {message}", 503, plain


def init_app(app: Flask) -> None:
    # DBAPIError covers every driver error; the handler passes on those that are not an outage.
    app.register_error_handler(DBAPIError, handle_database_unavailable)
    app.register_error_handler(PoolTimeout, handle_database_unavailable)
    app.register_error_handler(KaoheError, handle_engine_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
