"""Limits that keep one submission, case or file from hurting the service, each a setting
(engine/settings.py, KAOHE_MAX_*), each refused with a message a person can act on.

The web layer bounds the request itself (web/limits.py: body size, form fields, form memory);
here the engine bounds what reaches it by any door (page, API, command line, a diagram's script):

* a task's submitted data and an instance's start data (size as JSON, long texts, long lists);
* an instance's saved state (a script or loop that keeps adding data);
* an uploaded workbook's declared unpacked size (an .xlsx is a zip: a small file may unpack to
  gigabytes) and the rows a sheet may hold; a deployed definition file's size.
"""
from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from engine.errors import Message, ValidationFailed
from engine.settings import Settings

# Nested data deeper than this is not walked further (a form's rows of rows are two levels).
MAX_WALK_DEPTH = 32
TOO_LARGE = Message("提交的数据超过上限，未保存任何内容，请检查标出的字段",
                    "the submitted data is over a limit and nothing was saved; see the marked fields")


class TooLarge(ValidationFailed):
    """Something is over one of kaohe's size limits; nothing was saved."""

    code = "too_large"


class StateTooLarge(TooLarge):
    """An instance's state would grow past KAOHE_MAX_STATE_MB; the save is refused."""

    code = "state_too_large"


def json_size(data) -> int:
    """Bytes of `data` as the JSON kaohe stores (UTF-8, Chinese unescaped)."""
    return len(json.dumps(data, ensure_ascii=False, default=str).encode("utf-8"))


def _kb(size: int) -> str:
    return f"{size / 1024:.0f}"


def _walk(settings: Settings, value, schema, path: str, errors: dict[str, Message], depth: int = 0) -> None:
    """Texts and lists longer than the limits, where the form itself sets no maxLength / maxItems."""
    schema = schema if isinstance(schema, dict) else {}
    if isinstance(value, str):
        if "maxLength" not in schema and len(value) > settings.max_text_length:
            errors.setdefault(path or "_form", Message(
                f"最多 {settings.max_text_length} 个字符（现有 {len(value)} 个）",
                f"at most {settings.max_text_length} characters (this has {len(value)})"))
    elif isinstance(value, list):
        if "maxItems" not in schema and len(value) > settings.max_list_items:
            errors.setdefault(path or "_form", Message(
                f"最多 {settings.max_list_items} 项（现有 {len(value)} 项）",
                f"at most {settings.max_list_items} items (this has {len(value)})"))
            return  # its items need no look: the list is refused whole
        if depth < MAX_WALK_DEPTH:
            for index, item in enumerate(value):
                _walk(settings, item, schema.get("items"), f"{path}.{index}" if path else str(index), errors, depth + 1)
    elif isinstance(value, dict) and depth < MAX_WALK_DEPTH:
        properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
        for key, item in value.items():
            _walk(settings, item, properties.get(key), f"{path}.{key}" if path else str(key), errors, depth + 1)


def check_data_size(settings: Settings, data, *, field: str | None = None) -> None:
    """Refuse data a person submits whose JSON is larger than KAOHE_MAX_DATA_KB. `field` names the
    whole of `data` in the message (e.g. "data" for an API start); otherwise its largest field."""
    size, limit = json_size(data), settings.max_data_kb * 1024
    if size <= limit:
        return
    whole = Message(f"内容过大：共 {_kb(size)} KB，上限 {settings.max_data_kb} KB",
                    f"too large: {_kb(size)} KB, the limit is {settings.max_data_kb} KB")
    if field is not None or not isinstance(data, dict) or not data:
        where = field or "_form"
    else:  # name the field that makes it large: the person knows where to cut
        where = str(max(data, key=lambda key: json_size(data[key])))
    raise TooLarge(TOO_LARGE.zh, TOO_LARGE.en, field_errors={where: whole})


def check_submission(settings: Settings, data, schema: dict | None = None, *, field: str | None = None) -> None:
    """Refuse data a person submits (a task's form, a start's data) that is over a limit: its size
    (check_data_size), a text longer than KAOHE_MAX_TEXT_LENGTH or a list longer than
    KAOHE_MAX_LIST_ITEMS where the form's `schema` sets no maxLength / maxItems of its own."""
    check_data_size(settings, data, field=field)
    errors: dict[str, Message] = {}
    _walk(settings, data, schema, field or "", errors)
    if errors:
        raise TooLarge(TOO_LARGE.zh, TOO_LARGE.en, field_errors=errors)


def check_state(settings: Settings, state: str, instance_id: int | None) -> None:
    """Refuse to save an instance state larger than KAOHE_MAX_STATE_MB: every later step would load
    and write it again, and one runaway loop could fill the database."""
    size, limit = len(state.encode("utf-8")), int(settings.max_state_mb * 1024 * 1024)
    if size <= limit:
        return
    megabytes, which = f"{size / 1024 / 1024:.1f}", f" {instance_id}" if instance_id else ""
    raise StateTooLarge(
        f"流程实例{which}的数据将达到 {megabytes} MB，超过 {settings.max_state_mb:g} MB 上限，本次操作未保存，"
        "实例保持原状；请检查流程中不断累积数据的脚本或循环",
        f"process instance{which}'s data would grow to {megabytes} MB, over the {settings.max_state_mb:g} MB "
        "limit; nothing was saved and the instance is as it was; look for a script or loop in the diagram "
        "that keeps adding data")


def upload_problem(settings: Settings, name: str, size: int) -> Message | None:
    """A file larger than KAOHE_MAX_UPLOAD_MB."""
    if size <= settings.max_upload_mb * 1024 * 1024:
        return None
    return Message(f"「{name}」超过 {settings.max_upload_mb:g} MB 上限", f"'{name}' is larger than {settings.max_upload_mb:g} MB")


def workbook_problem(settings: Settings, name: str, content: bytes | Path) -> Message | None:
    """Why an uploaded .xlsx must not be opened: too large, or a zip that declares it unpacks to more
    than KAOHE_MAX_UNPACKED_MB (Python's zipfile never inflates a member past its declared size, so
    the declaration bounds what openpyxl can read). None when it may be opened (or is no zip at all:
    the reader then says it is not a workbook)."""
    size = len(content) if isinstance(content, bytes) else Path(content).stat().st_size
    if (problem := upload_problem(settings, name, size)) is not None:
        return problem
    try:
        with zipfile.ZipFile(io.BytesIO(content) if isinstance(content, bytes) else content) as package:
            unpacked = sum(member.file_size for member in package.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    if unpacked <= settings.max_unpacked_mb * 1024 * 1024:
        return None
    megabytes = f"{unpacked / 1024 / 1024:.0f}"
    return Message(f"「{name}」解压后有 {megabytes} MB，超过 {settings.max_unpacked_mb:g} MB 上限，未读取",
                   f"'{name}' unpacks to {megabytes} MB, over the {settings.max_unpacked_mb:g} MB limit; it was not read")


def too_many_rows(max_rows: int) -> Message:
    """A sheet with more rows than KAOHE_MAX_SHEET_ROWS (found while reading, so never all loaded)."""
    return Message(f"行数超过 {max_rows} 行上限，未导入任何数据；请分成几个文件",
                   f"more than {max_rows} rows, the limit; nothing was imported; split the file")


def definition_problem(settings: Settings, name: str, content: str) -> Message | None:
    """A BPMN, DMN or form file larger than KAOHE_MAX_DEFINITION_KB."""
    size = len(content.encode("utf-8"))
    if size <= settings.max_definition_kb * 1024:
        return None
    return Message(f"文件有 {_kb(size)} KB，超过 {settings.max_definition_kb} KB 上限",
                   f"the file is {_kb(size)} KB, over the {settings.max_definition_kb} KB limit")
