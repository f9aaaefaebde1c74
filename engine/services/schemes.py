"""Evaluation schemes: imported from a JSON document, validated whole, versioned by content."""
from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from pathlib import Path

from jsonschema import Draft202012Validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import Message, NotFound, PermissionDenied, ValidationFailed
from engine.models import EvaluationScheme, SchemeArea, SchemeIndicator
from engine.models.org import UNIT_CATEGORIES
from engine.models.scoring import AREAS
from engine.runtime import Actor, Runtime
from engine.services import audit
from engine.services.result_inputs import all_periods_changed

METHODS = {"points": ("得分制", "points"), "deduction": ("扣分制", "deduction"), "pass_fail": ("达标制", "pass/fail")}
PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
DEFAULT_SCHEME_FILE = Path(__file__).resolve().parents[2] / "workflows" / "schemes" / "default.scheme.json"

_PERCENT = {"type": "number", "minimum": 0, "maximum": 100}
SCHEME_DOCUMENT = {
    "type": "object",
    "required": ["code", "name", "valid_from", "areas"],
    "additionalProperties": False,
    "properties": {
        "code": {"type": "string", "pattern": r"^[A-Za-z0-9_\-]{1,64}$"},
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "valid_from": {"type": "string", "pattern": PERIOD_PATTERN},
        "fusion": {"type": "object", "additionalProperties": False,
                   "properties": {"own_weight": {"type": "number", "exclusiveMinimum": 0, "maximum": 1}}},
        "rater_weights": {"type": "object", "additionalProperties": _PERCENT},
        "full_marks_months": {"type": "integer", "minimum": 2, "maximum": 12},
        "political": {"type": "object", "additionalProperties": False, "properties": {
            "fail_threshold": {"type": "number", "exclusiveMinimum": 0},
            "negative_list": {"type": "array", "items": {
                "type": "object", "required": ["code", "text_zh", "deduction"], "additionalProperties": False,
                "properties": {"code": {"type": "string"}, "text_zh": {"type": "string"}, "text_en": {"type": "string"},
                               "deduction": {"type": "number", "minimum": 0}, "veto": {"type": "boolean"}}}}}},
        "areas": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["code", "name", "weight", "categories", "indicators"],
            "additionalProperties": False,
            "properties": {
                "code": {"enum": list(AREAS)}, "name": {"type": "string", "minLength": 1}, "weight": _PERCENT,
                "categories": {"type": "array", "minItems": 1, "uniqueItems": True,
                               "items": {"enum": [c for c in UNIT_CATEGORIES if c != "organisation"]}},
                "indicators": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["code", "name", "weight", "max", "method"],
                    "additionalProperties": False,
                    "properties": {"code": {"type": "string", "pattern": r"^[A-Za-z0-9_\-]{1,64}$"},
                                   "name": {"type": "string", "minLength": 1}, "weight": _PERCENT,
                                   "max": {"type": "number", "exclusiveMinimum": 0, "maximum": 1000},
                                   "method": {"enum": list(METHODS)}, "description": {"type": "string"}}}}}}},
    },
}
_VALIDATOR = Draft202012Validator(SCHEME_DOCUMENT)


def _path(error) -> str:
    return ".".join(str(p) for p in error.absolute_path) or "_document"


def _semantic_problems(doc: dict) -> dict[str, Message]:
    """What JSON Schema cannot say: weights summing to 100 %, unique codes, known rater roles."""
    from engine.scoring.individual import DEFAULT_RATER_WEIGHTS  # the scoring rules own the rater roles
    problems: dict[str, Message] = {}
    area_total = sum(Decimal(str(a["weight"])) for a in doc["areas"])
    if area_total != 100:
        problems["areas"] = Message(f"各考核领域权重之和须为 100%，当前为 {area_total}%",
                                    f"area weights must sum to 100%, they sum to {area_total}%")
    seen_areas, seen_indicators = set(), set()
    for i, area in enumerate(doc["areas"]):
        if area["code"] in seen_areas:
            problems[f"areas.{i}.code"] = Message(f"考核领域 {area['code']} 重复", f"area {area['code']} repeated")
        seen_areas.add(area["code"])
        total = sum(Decimal(str(ind["weight"])) for ind in area["indicators"])
        if total != 100:
            problems[f"areas.{i}.indicators"] = Message(
                f"「{area['name']}」各指标权重之和须为 100%，当前为 {total}%",
                f"indicator weights of '{area['name']}' must sum to 100%, they sum to {total}%")
        for j, indicator in enumerate(area["indicators"]):
            if indicator["code"] in seen_indicators:
                problems[f"areas.{i}.indicators.{j}.code"] = Message(
                    f"指标编码 {indicator['code']} 重复", f"indicator code {indicator['code']} repeated")
            seen_indicators.add(indicator["code"])
    weights = doc.get("rater_weights")
    if weights is not None:
        unknown = sorted(set(weights) - set(DEFAULT_RATER_WEIGHTS))
        if unknown:
            problems["rater_weights"] = Message(f"未知的评价人类别：{'、'.join(unknown)}",
                                                f"unknown rater roles: {', '.join(unknown)}")
        elif sum(Decimal(str(w)) for w in weights.values()) != 100:
            problems["rater_weights"] = Message("评价人权重之和须为 100%", "rater weights must sum to 100%")
    return problems


def parse_scheme(text: str) -> dict:
    """The scheme document, or ValidationFailed listing every problem by its place in the document."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"方案文件不是有效的 JSON：第 {exc.lineno} 行 {exc.msg}",
                               f"the scheme file is not valid JSON: line {exc.lineno}: {exc.msg}") from exc
    problems = {_path(e): Message(f"不符合方案格式：{e.message}", f"does not fit the scheme format: {e.message}")
                for e in _VALIDATOR.iter_errors(doc)}
    if not problems:
        problems = _semantic_problems(doc)
    if problems:
        raise ValidationFailed("考核方案有误，未导入", "the evaluation scheme has errors and was not imported",
                               field_errors=problems)
    return doc


def import_scheme(rt: Runtime, text: str, actor: Actor) -> tuple[EvaluationScheme, bool]:
    """Store a new version unless this exact document is already the latest; returns (scheme, created)."""
    if not actor.has_role("process_owner", "admin"):
        raise PermissionDenied("只有绩效办公室可以导入考核方案", "only the performance office may import schemes")
    doc = parse_scheme(text)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    with rt.db.unit_of_work() as session:
        latest = session.scalars(select(EvaluationScheme).where(EvaluationScheme.code == doc["code"])
                                 .order_by(EvaluationScheme.version.desc()).limit(1)).first()
        if latest is not None and latest.source_hash == digest:
            return latest, False
        number = (session.scalar(select(func.max(EvaluationScheme.version))
                                 .where(EvaluationScheme.code == doc["code"])) or 0) + 1
        scheme = _build(doc, number, text, digest, rt.clock.now(), actor.username)
        session.add(scheme)
        all_periods_changed(session)
        session.flush()
        audit.record(session, at=rt.clock.now(), actor=actor, action="scheme_import",
                     subject=doc["code"], detail={"version": number, "valid_from": doc["valid_from"]}, data=doc)
        return scheme, True


def _build(doc: dict, number: int, text: str, digest: str, now, username: str) -> EvaluationScheme:
    from engine.scoring.individual import DEFAULT_RATER_WEIGHTS
    political = doc.get("political", {})
    scheme = EvaluationScheme(
        code=doc["code"], version=number, name=doc["name"], valid_from=doc["valid_from"],
        own_weight=Decimal(str(doc.get("fusion", {}).get("own_weight", "0.7"))),
        rater_weights=json.dumps(doc.get("rater_weights") or {k: str(v) for k, v in DEFAULT_RATER_WEIGHTS.items()}),
        full_marks_months=doc.get("full_marks_months", 3),
        political_fail_threshold=Decimal(str(political.get("fail_threshold", 10))),
        negative_list=json.dumps(political.get("negative_list"), ensure_ascii=False), source=text,
        source_hash=digest, created_at=now, created_by=username)
    for position, area in enumerate(doc["areas"]):
        row = SchemeArea(code=area["code"], name=area["name"], weight=Decimal(str(area["weight"])),
                         categories=json.dumps(area["categories"]), position=position)
        row.indicators = [SchemeIndicator(code=i["code"], name=i["name"], weight=Decimal(str(i["weight"])),
                                          max_score=Decimal(str(i["max"])), method=i["method"],
                                          description=i.get("description"), position=n)
                          for n, i in enumerate(area["indicators"])]
        scheme.areas.append(row)
    return scheme


def scheme_for_period(session: Session, period: str, code: str | None = None) -> EvaluationScheme:
    """The scheme version in force for a period: the latest version with valid_from <= period."""
    query = select(EvaluationScheme).where(EvaluationScheme.valid_from <= period)
    if code:
        query = query.where(EvaluationScheme.code == code)
    scheme = session.scalars(query.order_by(EvaluationScheme.valid_from.desc(),
                                            EvaluationScheme.version.desc()).limit(1)).first()
    if scheme is None:
        raise NotFound(f"{period} 没有适用的考核方案", f"no evaluation scheme applies to {period}")
    return scheme
