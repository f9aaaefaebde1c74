"""The request itself, bounded before a view reads it: body size, form fields, form memory.

* A body whose Content-Length is over KAOHE_MAX_REQUEST_MB is refused before anything reads it
  (the first before_request hook), so a client cannot make a worker hold or spool it.
* A body sent without a length (chunked) is cut off by Werkzeug once it passes the same limit
  (MAX_CONTENT_LENGTH wraps the input stream in a LimitedStream).
* A form with more than KAOHE_MAX_FORM_FIELDS fields, or more than KAOHE_MAX_FORM_MEMORY_KB of
  text, is refused by Werkzeug's form parser (MAX_FORM_PARTS, MAX_FORM_MEMORY_SIZE). Werkzeug
  applies both to multipart forms only; LimitedFormParser applies them to urlencoded forms too
  (which are all text), reading at most one chunk past the memory limit.

Each is a 413 with a message that says which limit and what to do: the friendly page in the
person's language, or the API's JSON error.
"""
from __future__ import annotations

from urllib.parse import parse_qsl

from flask import Flask, Request, current_app, request
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from engine.settings import Settings
from web import errors


def config_for(settings: Settings) -> dict:
    """The Flask settings that carry kaohe's request limits (create_app sets them; a test may override)."""
    # Werkzeug's multipart parser holds up to 64 KiB of a part (a file's too) at once and checks that
    # against the memory limit: below 64 KiB every upload would be refused.
    return {"MAX_CONTENT_LENGTH": settings.max_request_bytes, "MAX_FORM_PARTS": settings.max_form_fields,
            "MAX_FORM_MEMORY_SIZE": max(settings.max_form_memory_kb, 64) * 1024}


class LimitedFormParser(FormDataParser):
    """Werkzeug's parser, with the form memory and field limits applied to urlencoded bodies too."""

    def _parse_urlencoded(self, stream, mimetype, content_length, options):
        limit, body = self.max_form_memory_size, bytearray()
        # Read to the end in chunks: a body without a length meets MAX_CONTENT_LENGTH's LimitedStream,
        # which refuses a read past its limit, and any body stops one chunk past the memory limit.
        while chunk := stream.read(64 * 1024):
            body += chunk
            if limit is not None and len(body) > limit:
                raise RequestEntityTooLarge()
        try:
            items = parse_qsl(body.decode(), keep_blank_values=True, errors="werkzeug.url_quote",
                              max_num_fields=self.max_form_parts)
        except ValueError:  # more fields than max_num_fields
            raise RequestEntityTooLarge() from None
        return stream, self.cls(items), self.cls()


class LimitedRequest(Request):
    form_data_parser_class = LimitedFormParser


def refuse_oversized_body() -> None:
    """Before any other hook (CSRF reads the form) and any view: the declared length alone decides."""
    length, limit = request.content_length, current_app.config["MAX_CONTENT_LENGTH"]
    if length is not None and limit is not None and length > limit:
        raise RequestEntityTooLarge()


def too_large_message() -> str:
    from web.auth_user import runtime
    config, length = current_app.config, request.content_length
    limit = config["MAX_CONTENT_LENGTH"]
    if length is None or (limit is not None and length > limit):
        return _("提交的内容超过了 %(limit)s MB 的上限，未保存任何内容。单个文件最多 %(file)s MB。",
                 limit=f"{(limit or 0) / 1024 / 1024:.3g}", file=f"{runtime().settings.max_upload_mb:g}")
    return _("表单的字段太多或文字太长（最多 %(fields)s 个字段、共 %(kb)s KB 文字），未保存任何内容。",
             fields=config["MAX_FORM_PARTS"], kb=f"{(config['MAX_FORM_MEMORY_SIZE'] or 0) // 1024}")


def handle_too_large(_error: RequestEntityTooLarge):
    message = too_large_message()
    if errors.is_api_request():
        response = errors.api_error(413, "too_large", message)
    else:
        response, _status = errors.error_page(413, message)
    # The unread rest of the body would be taken for the next request on a kept-alive connection.
    return response, 413, {"Connection": "close"}


def init_app(app: Flask) -> None:
    app.request_class = LimitedRequest
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_oversized_body)
    app.register_error_handler(RequestEntityTooLarge, handle_too_large)
