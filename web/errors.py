"""Engine errors and HTTP errors as friendly pages in the person's language; never a traceback."""
from __future__ import annotations

import uuid

from flask import Flask, current_app, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from engine.errors import (Conflict, DeploymentRejected, InvalidState, KaoheError, NotFound, PermissionDenied,
                           ValidationFailed)
from web.i18n import current_language

STATUS_BY_ERROR = [
    (NotFound, 404), (PermissionDenied, 403), (Conflict, 409), (InvalidState, 409),
    (ValidationFailed, 422), (DeploymentRejected, 422),
]
TITLES = {
    400: _l("请求无效"),
    403: _l("无权访问"),
    404: _l("找不到页面"),
    405: _l("不支持此操作"),
    409: _l("操作冲突"),
    413: _l("提交的内容太大"),
    422: _l("提交内容有误"),
    500: _l("服务器出错"),
}
HTTP_MESSAGES = {
    400: _l("请求无法处理，请返回重试。"),
    403: _l("你没有权限查看此页面。"),
    404: _l("你要找的页面不存在。"),
    405: _l("此页面不支持这种操作。"),
    413: _l("提交的内容超过了允许的大小。"),
}


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
        details = [f"{path}: {message.text(language)}" for path, message in error.field_errors.items()]
    return error_page(status_for(error), error.text(language), details=details)


def handle_csrf_error(_error: CSRFError):
    return error_page(400, str(_l("页面已过期或缺少安全令牌，请刷新页面后重试。")))


def handle_http_error(error: HTTPException):
    status = error.code or 500
    if status >= 500:
        return handle_unexpected(error)
    message = HTTP_MESSAGES.get(status) or TITLES.get(status) or TITLES[400]
    response, status = error_page(status, str(message))
    headers = dict(error.get_headers()) if status == 405 else {}
    return response, status, {k: v for k, v in headers.items() if k.lower() == "allow"}


def handle_unexpected(error: Exception):
    """Log the traceback under a short reference a person can quote to support."""
    reference = uuid.uuid4().hex[:8]
    current_app.logger.error("unhandled error ref=%s on %s %s", reference, request.method, request.path,
                             exc_info=error)
    message = str(_l("系统出现意外错误，请稍后重试。如问题持续，请把参考编号告诉管理员。"))
    try:
        return error_page(500, message, reference=reference)
    except Exception:  # the page itself failed (e.g. the database is down): plain text, still no traceback
        current_app.logger.exception("error page failed ref=%s", reference)
        plain = {"Content-Type": "text/plain; charset=utf-8"}
        return f"500 服务器出错 / server error. ref: {reference}", 500, plain


def init_app(app: Flask) -> None:
    app.register_error_handler(KaoheError, handle_engine_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
