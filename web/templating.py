"""Jinja helpers shared by every page: local time, labels, language switch."""
from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app, url_for

from engine.clock import as_utc
from web import i18n, labels


def local_time(value: datetime | None, pattern: str = "%Y-%m-%d %H:%M") -> str:
    """UTC from the database, shown in KAOHE_TIMEZONE (Asia/Shanghai unless configured)."""
    if value is None:
        return ""
    zone = ZoneInfo(current_app.config["KAOHE_TIMEZONE"])
    return as_utc(value).astimezone(zone).strftime(pattern)


# Built into one URL and then replaced by each row's id: no real URL part contains it.
_ID_MARK = 2147483646


def id_url(endpoint: str, key: str):
    """`url_for(endpoint, key=id)` for many ids at the cost of one call: long lists (the inbox's
    rows, four links each) would otherwise spend a tenth of the page building the same URL."""
    head, _, tail = url_for(endpoint, **{key: _ID_MARK}).partition(str(_ID_MARK))
    return lambda value: f"{head}{int(value)}{tail}"


def readable(value) -> str:
    """A data value as a person reads it: text as is, anything structured as indented JSON."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, indent=2, default=str)
    return str(value)


def filesize(size) -> str:
    """Bytes as a person reads them: 512 B, 12.3 KB, 4.5 MB."""
    if not isinstance(size, (int, float)):
        return ""
    for unit in ("B", "KB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} MB"


def _globals() -> dict:
    language = i18n.current_language()
    other = "zh_CN" if language == "en" else "en"
    return {
        "lang": language,
        "html_lang": "en" if language == "en" else "zh-CN",
        "switch_lang_url": i18n.switch_url(other),
        "switch_lang_label": i18n.LANGUAGES[other],
        "switch_lang_code": "en" if other == "en" else "zh-CN",
    }


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(local_time=local_time, readable=readable, filesize=filesize,
                                 instance_status=labels.instance_status, audit_action=labels.audit_action,
                                 task_status=labels.task_status, role_name=labels.role_name)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.context_processor(_globals)
