"""File fields of a form, file references in data, and the check that a submitted reference names a
file really uploaded to the instance (its name, size and type are then taken from the upload record)."""
from __future__ import annotations

import json
import re
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import Message, ValidationFailed
from engine.models.evidence import EvidenceFile

FILE_FORMAT = "kaohe-file"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def is_file_schema(prop) -> bool:
    return isinstance(prop, dict) and prop.get("format") == FILE_FORMAT


def file_field_kind(prop) -> str | None:
    """'one' for a single-file property, 'many' for an array of files, None for anything else."""
    if is_file_schema(prop):
        return "one"
    if isinstance(prop, dict) and prop.get("type") == "array" and is_file_schema(prop.get("items")):
        return "many"
    return None


def file_fields(schema: dict | None) -> dict[str, bool]:
    """{field name: holds several files} for the form's top-level file fields."""
    props = (schema or {}).get("properties")
    if not isinstance(props, dict):
        return {}
    return {name: kind == "many" for name, prop in props.items() if (kind := file_field_kind(prop))}


@lru_cache(maxsize=256)
def _fields_of_text(schema_text: str) -> tuple[tuple[str, bool], ...]:
    return tuple(file_fields(json.loads(schema_text)).items())


def file_fields_of(schema_text: str | None) -> dict[str, bool]:
    """file_fields of a form given as its JSON text (parsed once per text)."""
    return dict(_fields_of_text(schema_text)) if schema_text else {}


def is_reference(value) -> bool:
    return isinstance(value, dict) and isinstance(value.get("sha256"), str) and bool(_SHA256.match(value["sha256"]))


def as_reference(row: EvidenceFile) -> dict:
    return {"sha256": row.sha256, "name": row.original_name, "size": row.size, "content_type": row.content_type}


def find_references(data) -> list[dict]:
    """Every file reference anywhere in `data` (nested lists and objects too), each content+name once."""
    found: dict[tuple[str, str], dict] = {}

    def walk(value) -> None:
        if is_reference(value):
            found.setdefault((value["sha256"], str(value.get("name", ""))), value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)
    walk(data)
    return list(found.values())


def resolve(session: Session, instance_id: int, schema_text: str, data: dict) -> dict:
    """`data` with each file field's references replaced by the recorded uploads to this instance;
    ValidationFailed naming the field when a reference is not a file uploaded to it."""
    fields = file_fields_of(schema_text)
    present = {name: data[name] for name in fields if data.get(name) is not None}
    if not present:
        return data
    wanted = {ref["sha256"] for name, value in present.items()
              for ref in (value if fields[name] else [value]) if is_reference(ref)}
    uploads: dict[str, list[EvidenceFile]] = {}
    for row in session.scalars(select(EvidenceFile).where(EvidenceFile.instance_id == instance_id,
                                                          EvidenceFile.sha256.in_(sorted(wanted)))
                               .order_by(EvidenceFile.id)):
        uploads.setdefault(row.sha256, []).append(row)
    result, errors = dict(data), {}
    for name, value in present.items():
        resolved, seen = [], set()
        for ref in value if fields[name] else [value]:
            known = uploads.get(ref.get("sha256")) if is_reference(ref) else None
            if not known:
                shown = str(ref.get("name", "")) if isinstance(ref, dict) else ""
                errors[name] = Message(f"文件「{shown}」不是上传到此流程的文件，请重新上传",
                                       f"file '{shown}' was not uploaded to this process; upload it again")
                break
            # The name a person chose is kept only if that content was uploaded under it.
            row = next((r for r in reversed(known) if r.original_name == ref.get("name")), known[-1])
            if (row.sha256, row.original_name) not in seen:
                seen.add((row.sha256, row.original_name))
                resolved.append(as_reference(row))
        if name not in errors:
            result[name] = resolved if fields[name] else resolved[0]
    if errors:
        raise ValidationFailed("表单填写有误，请检查标出的字段", "the form has errors; see the marked fields",
                               field_errors=errors)
    return result
