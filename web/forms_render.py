"""Task forms drawn on the server from their JSON Schema, and posted strings turned back into values.

The schema stays the single truth: the engine validates every submission against it, so the
conversion here never rejects anything; a value it cannot read is passed on as typed, and the
validation names the field.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from engine.errors import Message
from engine.evidence import references, sniff

LONG_TEXT = 120  # strings allowed to be longer than this get a textarea
INTEGER_TEXT = re.compile(r"^\s*[+-]?\d+\s*$")
FORM_LEVEL = "_form"


@dataclass
class Field:
    name: str
    label: str
    widget: str  # text, textarea, number, checkbox, select, date, email, json, file, rows
    required: bool = False
    help: str | None = None
    value: str = ""
    checked: bool = False
    options: list[tuple[str, str]] = field(default_factory=list)  # (submitted value, label)
    attrs: dict[str, str] = field(default_factory=dict)
    readonly: bool = False
    error: str | None = None
    multiple: bool = False  # a file field holding several files
    files: list[dict] = field(default_factory=list)  # file references already uploaded (kept on a re-show)
    rows: list[list["Field"]] = field(default_factory=list)  # an array of objects: one list of inputs per item
    shown_rows: int = 0  # rows shown before "添加一项" is pressed (the rest start hidden; all without JS)
    fixed_rows: bool = False  # items come from the case (their declared parts read-only): none added


def _json_type(prop: dict) -> str | None:
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return kind


def _choices(prop: dict) -> list[tuple[object, str]] | None:
    """(value, label) pairs from `enum` (+ rjsf's enumNames) or from `oneOf`/`anyOf` of consts."""
    if isinstance(prop.get("enum"), list):
        names = prop.get("enumNames") if isinstance(prop.get("enumNames"), list) else []
        return [(v, str(names[i]) if i < len(names) else _text(v)) for i, v in enumerate(prop["enum"])]
    for key in ("oneOf", "anyOf"):
        options = prop.get(key)
        consts = isinstance(options, list) and all(isinstance(o, dict) and "const" in o for o in options)
        if options and consts:
            return [(o["const"], str(o.get("title", _text(o["const"])))) for o in options]
    return None


def _text(value) -> str:
    """How a value appears inside an input."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, indent=2)
    return str(value)


def _widget(prop: dict) -> str:
    kind = _json_type(prop)
    if references.file_field_kind(prop):
        return "file"
    if _choices(prop) is not None:
        return "select"
    if kind == "boolean":
        return "checkbox"
    if kind in ("number", "integer"):
        return "number"
    if kind == "array" and _row_properties(prop):
        return "rows"
    if kind in ("object", "array"):
        return "json"
    if prop.get("format") in ("date", "email"):
        return prop["format"]
    if prop.get("format") == "textarea" or (prop.get("maxLength") or 0) > LONG_TEXT:
        return "textarea"
    return "text"


def _attrs(prop: dict, widget: str) -> dict[str, str]:
    attrs: dict[str, str] = {}
    if widget == "number":
        for keyword, attr in (("minimum", "min"), ("maximum", "max")):
            if isinstance(prop.get(keyword), (int, float)):
                attrs[attr] = _text(prop[keyword])
        step = prop.get("multipleOf")
        attrs["step"] = _text(step) if isinstance(step, (int, float)) else (
            "1" if _json_type(prop) == "integer" else "any")
        attrs["inputmode"] = "numeric" if _json_type(prop) == "integer" else "decimal"
    if widget in ("text", "textarea", "email"):
        for keyword, attr in (("maxLength", "maxlength"), ("minLength", "minlength")):
            if isinstance(prop.get(keyword), int):
                attrs[attr] = str(prop[keyword])
    if widget == "text" and isinstance(prop.get("pattern"), str):
        attrs["pattern"] = prop["pattern"]
    if widget == "file":
        attrs["accept"] = ",".join(sniff.ALLOWED_EXTENSIONS)
    return attrs


def properties(schema: dict | None) -> dict[str, dict]:
    props = (schema or {}).get("properties")
    if not isinstance(props, dict):
        return {}
    return {name: prop for name, prop in props.items() if isinstance(prop, dict)}


def field_error(errors: Mapping[str, Message], name: str, language: str) -> str | None:
    """The message for a field, including errors reported deeper inside it (name.0.x)."""
    for path, message in errors.items():
        if path == name or path.startswith(name + "."):
            return message.text(language)
    return None


def form_level_errors(schema: dict | None, errors: Mapping[str, Message], language: str) -> list[str]:
    """Errors that belong to no single input (shown above the form)."""
    names = properties(schema)
    return [message.text(language) for path, message in errors.items()
            if path == FORM_LEVEL or path.split(".")[0] not in names]


def _file_list(value) -> list[dict]:
    items = value if isinstance(value, list) else [value]
    return [item for item in items if references.is_reference(item)]


def build_fields(schema: dict | None, data: Mapping, *, posted: Mapping | None = None,
                 errors: Mapping[str, Message] | None = None, language: str = "zh_CN",
                 files: Mapping | None = None) -> list[Field]:
    """One Field per schema property, filled from the task data, or from what was just typed.

    `files` holds the file fields' references as last submitted (uploads already stored), so a
    refused submit shows them again instead of losing them."""
    required = set((schema or {}).get("required") or [])
    fields = []
    for name, prop in properties(schema).items():
        widget = _widget(prop)
        item = Field(name=name, label=str(prop.get("title") or name), widget=widget,
                     required=name in required, help=prop.get("description"), attrs=_attrs(prop, widget),
                     readonly=bool(prop.get("readOnly")))
        current = data.get(name, prop.get("default"))
        if widget == "select":
            item.options = [(_text(value), label) for value, label in _choices(prop) or []]
        if widget == "rows":
            items = _convert_rows(name, prop, posted, data) if posted is not None and not item.readonly \
                else data.get(name)
            _fill_rows(item, prop, items if isinstance(items, list) else [], errors or {}, language)
            fields.append(item)
            continue
        if widget == "file":
            item.multiple = references.file_field_kind(prop) == "many"
            item.files = _file_list((files if files is not None else data).get(name))
        elif posted is not None and not item.readonly:
            item.value = posted.get(name, "")
            item.checked = name in posted
        else:
            item.value = _text(current)
            item.checked = current is True
        item.error = field_error(errors or {}, name, language)
        fields.append(item)
    return fields


def _number(text: str, integer: bool):
    if INTEGER_TEXT.match(text):
        return int(text)
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        return text
    if integer:
        return int(number) if number.is_integer() else text
    return number


def _kept_files(posted: Mapping, name: str) -> list:
    if hasattr(posted, "getlist"):
        values = posted.getlist(name)
    else:
        values = [] if posted.get(name) is None else [posted.get(name)]
    kept = []
    for text in values:
        try:
            kept.append(json.loads(text))
        except (TypeError, ValueError):
            kept.append(text)  # the engine names the field
    return kept


def convert(schema: dict | None, posted: Mapping, current: Mapping | None = None) -> dict:
    """The submitted strings as the schema's types. Empty inputs are left out (so `required` reports
    them); anything unreadable stays a string for the validation to name. `current` is the task's data,
    the source of an item's read-only parts."""
    result: dict = {}
    for name, prop in properties(schema).items():
        if prop.get("readOnly"):
            continue
        widget = _widget(prop)
        if widget == "checkbox":
            result[name] = name in posted
            continue
        if widget == "file":  # the references kept (ticked) on the page; new uploads are added by the view
            kept = _kept_files(posted, name)
            if references.file_field_kind(prop) == "many":
                result[name] = kept  # an empty list removes the files unticked, as a person expects
            elif kept:
                result[name] = kept[-1]
            continue
        if widget == "rows":
            items = _convert_rows(name, prop, posted, current or {})
            if items or _fixed_rows(prop):
                result[name] = items
            continue
        text = posted.get(name)
        if text is None or not text.strip():
            continue
        result[name] = _value(prop, widget, text)
    return result


def _value(prop: dict, widget: str, text: str):
    """One typed string as the schema's type (unreadable text stays a string for validation to name)."""
    if widget == "select":
        by_text = {_text(value): value for value, _label in _choices(prop) or []}
        return by_text.get(text, text)
    if widget == "number":
        return _number(text, integer=_json_type(prop) == "integer")
    if widget == "json":
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


# --- arrays of objects (e.g. the achievement declaration's items): one row of inputs per item ---------

ROW_NAME = re.compile(r"^(?P<field>.+)-(?P<index>\d{1,3})-(?P<sub>[^-]+)$")
MAX_ROWS = 50  # rows read back from a post; more than maxItems is refused by the validation anyway


def _row_properties(prop: dict) -> dict[str, dict]:
    items = prop.get("items")
    if not isinstance(items, dict) or _json_type(items) != "object":
        return {}
    subs = properties(items)
    if not subs or any(_widget(sub) in ("json", "file") or _json_type(sub) == "array" for sub in subs.values()):
        return {}  # nested structures stay a JSON text area
    return subs


def _fixed_rows(prop: dict) -> bool:
    """Items whose declared parts are read-only (a rating of declared items): the case decides how many."""
    return any(sub.get("readOnly") for sub in _row_properties(prop).values())


def row_input_name(name: str, index: int, sub: str) -> str:
    return f"{name}-{index}-{sub}"


def _posted_count(name: str, posted: Mapping) -> int:
    indexes = [int(m.group("index")) for key in posted.keys()
               if (m := ROW_NAME.match(key)) and m.group("field") == name]
    return min(max(indexes) + 1, MAX_ROWS) if indexes else 0


def _convert_rows(name: str, prop: dict, posted: Mapping, current: Mapping) -> list[dict]:
    """Rows posted as name-0-sub… back to a list of dicts. Entirely empty rows are dropped; read-only
    parts are taken from the case data, never from the post."""
    subs = _row_properties(prop)
    existing = current.get(name) if isinstance(current.get(name), list) else []
    fixed = _fixed_rows(prop)
    count = len(existing) if fixed else _posted_count(name, posted)
    rows: list[dict] = []
    for index in range(count):
        before = existing[index] if index < len(existing) and isinstance(existing[index], dict) else {}
        row: dict = {}
        for sub_name, sub in subs.items():
            if sub.get("readOnly"):
                if sub_name in before:
                    row[sub_name] = before[sub_name]
                continue
            widget, key = _widget(sub), row_input_name(name, index, sub_name)
            if widget == "checkbox":
                if key in posted:
                    row[sub_name] = True
                continue
            text = posted.get(key)
            if text is not None and text.strip():
                row[sub_name] = _value(sub, widget, text)
        if fixed or any(not subs[k].get("readOnly") for k in row):
            rows.append(row)
    return rows


def _fill_rows(item: Field, prop: dict, items: list, errors: Mapping[str, Message], language: str) -> None:
    """The inputs of every item, plus empty rows up to maxItems (shown one at a time with JS)."""
    subs = _row_properties(prop)
    required = set((prop.get("items") or {}).get("required") or [])
    item.fixed_rows = _fixed_rows(prop) or item.readonly
    max_items = prop.get("maxItems") if isinstance(prop.get("maxItems"), int) else len(items) + 3
    total = len(items) if item.fixed_rows else max(len(items), min(max_items, MAX_ROWS))
    item.shown_rows = max(len(items), 1)
    for index in range(total):
        values = items[index] if index < len(items) and isinstance(items[index], dict) else {}
        row = []
        for sub_name, sub in subs.items():
            widget = _widget(sub)
            cell = Field(name=row_input_name(item.name, index, sub_name), label=str(sub.get("title") or sub_name),
                         widget=widget, required=sub_name in required, help=sub.get("description"),
                         attrs=_attrs(sub, widget), readonly=item.readonly or bool(sub.get("readOnly")))
            if widget == "select":
                cell.options = [(_text(value), label) for value, label in _choices(sub) or []]
            current = values.get(sub_name)
            cell.value, cell.checked = _text(current), current is True
            message = errors.get(f"{item.name}.{index}.{sub_name}")
            cell.error = message.text(language) if message else None
            row.append(cell)
        item.rows.append(row)
    # The field's own message: the list as a whole (too many, too few) or an item outside any input.
    own = [m for path, m in errors.items() if path == item.name or (
        path.startswith(item.name + ".") and path.count(".") == 1)]
    item.error = own[0].text(language) if own else None
