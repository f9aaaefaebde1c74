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
    widget: str  # text, textarea, number, checkbox, select, date, email, json, file
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


def convert(schema: dict | None, posted: Mapping) -> dict:
    """The submitted strings as the schema's types. Empty inputs are left out (so `required` reports
    them); anything unreadable stays a string for the validation to name."""
    result: dict = {}
    for name, prop in properties(schema).items():
        if prop.get("readOnly"):
            continue
        widget, kind = _widget(prop), _json_type(prop)
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
        text = posted.get(name)
        if text is None or not text.strip():
            continue
        if widget == "select":
            by_text = {_text(value): value for value, _label in _choices(prop) or []}
            result[name] = by_text.get(text, text)
        elif widget == "number":
            result[name] = _number(text, integer=kind == "integer")
        elif widget == "json":
            try:
                result[name] = json.loads(text)
            except ValueError:
                result[name] = text
        else:
            result[name] = text
    return result
