"""Task forms: JSON Schema files checked at deploy time and applied to every submission."""
from __future__ import annotations

import json
from functools import lru_cache

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

from engine.errors import Message, ValidationFailed
from engine.evidence import references

FORM_PROPERTY = "formJsonSchemaFilename"
UI_PROPERTY = "formUiSchemaFilename"

# What a person reads for each JSON Schema keyword that failed, in Chinese and English.
_KEYWORD_MESSAGES = {
    "required": ("此项为必填项", "this field is required"),
    "type": ("格式不正确", "wrong type"),
    "minimum": ("不能小于 {limit}", "must be at least {limit}"),
    "maximum": ("不能大于 {limit}", "must be at most {limit}"),
    "exclusiveMinimum": ("必须大于 {limit}", "must be greater than {limit}"),
    "exclusiveMaximum": ("必须小于 {limit}", "must be less than {limit}"),
    "minLength": ("至少需要 {limit} 个字符", "at least {limit} characters"),
    "maxLength": ("最多 {limit} 个字符", "at most {limit} characters"),
    "minItems": ("至少需要 {limit} 项", "at least {limit} items"),
    "maxItems": ("最多 {limit} 项", "at most {limit} items"),
    "enum": ("请从给定选项中选择", "choose one of the given options"),
    "pattern": ("格式不符合要求", "does not match the required format"),
    "format": ("格式不符合要求", "does not match the required format"),
    "additionalProperties": ("包含不允许的字段", "contains fields that are not allowed"),
    "const": ("请按要求确认此项", "must be confirmed as required"),
}


# The standard formats plus kaohe's file reference (engine/evidence: {"sha256", "name", ...}).
FORMAT_CHECKER = FormatChecker(formats=Draft202012Validator.FORMAT_CHECKER.checkers)
FORMAT_CHECKER.checks(references.FILE_FORMAT)(
    lambda value: not isinstance(value, dict) or references.is_reference(value))


def _misplaced_file_fields(schema: dict) -> list[str]:
    """Paths of "kaohe-file" formats that are not a top-level field or the items of one."""
    fields = [prop for prop in (schema.get("properties") or {}).values() if isinstance(prop, dict)]
    allowed = {id(prop) for prop in fields} | {id(prop.get("items")) for prop in fields}
    found: list[str] = []

    def walk(node, path: str) -> None:
        if isinstance(node, dict):
            if references.is_file_schema(node) and id(node) not in allowed:
                found.append(path or "/")
            for key, value in node.items():
                walk(value, f"{path}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{path}/{index}")
    walk(schema, "")
    return found


def schema_problems(text: str) -> list[tuple[str, str]]:
    """Why a form file is unusable, as (zh, en) pairs; empty when it is a valid JSON Schema."""
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        return [(f"不是有效的 JSON：第 {exc.lineno} 行 {exc.msg}", f"not valid JSON: line {exc.lineno}: {exc.msg}")]
    if not isinstance(schema, dict):
        return [("表单必须是 JSON 对象", "a form must be a JSON object")]
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        return [(f"不是有效的 JSON Schema：{exc.message}", f"not a valid JSON Schema: {exc.message}")]
    return [(f"文件字段只能是表单的顶层字段：{path}", f"a file field must be a top-level field of the form: {path}")
            for path in _misplaced_file_fields(schema)]


@lru_cache(maxsize=256)
def _validator(schema_text: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_text), format_checker=FORMAT_CHECKER)


def _field_path(error) -> str:
    path = [str(p) for p in error.absolute_path]
    if error.validator == "required":
        # jsonschema reports a missing field on its parent; name the field itself.
        missing = error.message.split("'")[1] if "'" in error.message else ""
        path.append(missing)
    return ".".join(path) or "_form"


def validate_submission(schema_text: str, data: dict) -> None:
    """Raise ValidationFailed with one message per field when `data` does not fit the form."""
    validator = _validator(schema_text)
    field_errors: dict[str, Message] = {}
    # Only the form's own fields may be submitted: the rest of a case's data (lane_owners, unit_code,
    # a rater's position...) steers the process and must not be rewritten by whoever completes a task.
    declared = validator.schema.get("properties")
    if isinstance(declared, dict):
        for key in sorted(set(data) - set(declared)):
            field_errors[key] = Message("此字段不在表单中", "not a field of this form")
        for key in sorted(k for k in data if isinstance(declared.get(k), dict) and declared[k].get("readOnly")):
            field_errors[key] = Message("此项只读，不能修改", "this field is read-only")
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        zh, en = _KEYWORD_MESSAGES.get(error.validator, ("填写内容不符合要求", "invalid value"))
        limit = error.validator_value if not isinstance(error.validator_value, (dict, list)) else ""
        field_errors.setdefault(_field_path(error), Message(zh.format(limit=limit), en.format(limit=limit)))
    if field_errors:
        raise ValidationFailed("表单填写有误，请检查标出的字段", "the form has errors; see the marked fields",
                               field_errors=field_errors)


def keep_read_only(schema_text: str, submitted: dict, current: dict) -> dict:
    """`submitted` without what its readOnly row fields would change: a rater rates the items a
    person declared and cannot rewrite them, whatever a client posts. Array rows replace the whole
    list, so their readOnly fields are taken from the case's `current` rows by position, and a row
    with no counterpart there is not a declared row and is dropped. (A top-level readOnly field that
    is posted at all is refused by validate_submission.)"""
    properties = json.loads(schema_text).get("properties") or {}
    result = dict(submitted)
    for name, prop in properties.items():
        if not isinstance(prop, dict):
            continue
        if prop.get("readOnly"):  # refused by validate_submission if posted
            continue
        row = prop.get("items") if prop.get("type") == "array" else None
        fixed = [k for k, sub in ((row or {}).get("properties") or {}).items() if isinstance(sub, dict) and sub.get("readOnly")]
        if fixed and isinstance(result.get(name), list):
            declared = current.get(name) if isinstance(current.get(name), list) else []
            rows = []
            for index, item in enumerate(result[name][:len(declared)]):
                base = declared[index] if isinstance(declared[index], dict) else {}
                rows.append({**item, **{k: base[k] for k in fixed if k in base}} if isinstance(item, dict) else item)
            result[name] = rows
    return result

