"""Results in the API: the rankings of a month or a quarter, one unit, one person.

Scores, weights, points and rewards are decimal strings ("92.40"), never floats, so a client adds
them up to the cent as the engine does. The dataclasses of engine/services/result_views.py are
dumped as they are; (zh, en) pairs become {"zh", "en"}."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from engine.services.result_views import MAX_TREND_MONTHS
from web.schemas.common import ZonedDateTime

# 2026-03 or 2026Q1, as the pages take them; years outside 1900–2999 are typos, and the trend of a
# month in year 0 would step into negative years.
PERIOD = r"^(19|2\d)\d{2}-(0[1-9]|1[0-2])$|^(19|2\d)\d{2}Q[1-4]$"


class Score(fields.Decimal):
    """A decimal as a string, e.g. "88.40" or "-2.00" (documented as such: apispec would say number)."""

    def __init__(self, **kwargs):
        kwargs["metadata"] = {"type": "string", "format": "decimal", **kwargs.get("metadata", {})}
        super().__init__(as_string=True, **kwargs)


class PeriodArgs(ma.Schema):
    period = fields.String(validate=validate.Regexp(PERIOD, error="期间格式应为 2026-03 或 2026Q1 / a period looks "
                                                                  "like 2026-03 or 2026Q1"),
                           metadata={"description": "a month (2026-03) or a quarter (2026Q1); "
                                                    "by default last month, the one just evaluated"})


class UnitArgs(PeriodArgs):
    months = fields.Integer(load_default=12, validate=validate.Range(min=1, max=MAX_TREND_MONTHS),
                            metadata={"description": "how many months the trend covers, up to the period's last"})


class LabelSchema(ma.Schema):
    zh = fields.String(required=True)
    en = fields.String(required=True)


class Bilingual(fields.Nested):
    """A (zh, en) pair of the engine as {"zh": ..., "en": ...}."""

    def __init__(self, **kwargs):
        super().__init__(LabelSchema, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        zh, en = value
        return {"zh": zh, "en": en}


class RankSchema(ma.Schema):
    rank = fields.Integer(required=True, metadata={"description": "1 = best; ties share a rank"})
    rank_from_bottom = fields.Integer(required=True)
    size = fields.Integer(required=True, metadata={"description": "units ranked in the category"})
    upper_rank = fields.Integer(allow_none=True, metadata={"description": "rank if in the upper half"})
    lower_rank = fields.Integer(allow_none=True, metadata={"description": "rank from the bottom if in the lower half"})
    last_place = fields.Boolean(required=True)
    score = Score(required=True, metadata={"description": "the score ranked (fused)"})


class MonthlyRewardSchema(ma.Schema):
    head_pct = Score(required=True, metadata={"description": "change of the head's monthly bonus, percent points"})
    deputy_pct = Score(required=True)


class QuarterlyRewardSchema(ma.Schema):
    head_yuan = Score(required=True, metadata={"description": "whole yuan; negative is a deduction"})
    deputy_yuan = Score(required=True)
    staff_pct = Score(required=True, metadata={"description": "change of every employee's monthly bonus"})


class FusionSchema(ma.Schema):
    """The 3:7 breakdown of a month: fused = own_weight·own + (1 − own_weight)·partner."""

    own_weight = Score(required=True, metadata={"description": "e.g. 0.7"})
    own_share = Score(required=True, metadata={"description": "own_weight × own score"})
    partner = Score(allow_none=True, metadata={"description": "the unit's party branch's own score, or for a "
                                                              "branch its units' mean; null: nothing to fuse with"})
    partner_share = Score(allow_none=True)
    partner_is_members = fields.Boolean(required=True, metadata={"description": "true for a party branch"})


class UnitRowSchema(ma.Schema):
    """One unit's line of a ranking (UnitRow)."""

    code = fields.String(required=True, attribute="unit.code")
    name = fields.String(required=True, attribute="unit.name")
    category = fields.String(required=True, attribute="unit.category",
                             metadata={"description": "production, non_production or party_branch"})
    branch_code = fields.String(allow_none=True, attribute="unit.branch_code")
    area_scores = fields.Dict(keys=fields.String(), values=Score(), attribute="unit.area_scores",
                              metadata={"description": "area code → 0..100; empty when not the caller's to see"})
    missing = fields.List(fields.String(), attribute="unit.missing",
                          metadata={"description": "indicators not yet scored"})
    adjustments = Score(required=True, attribute="unit.adjustments",
                        metadata={"description": "likes and error notices, signed"})
    own = Score(allow_none=True, attribute="unit.own")
    fused = Score(allow_none=True, attribute="unit.fused")
    ranking = fields.Nested(RankSchema, allow_none=True, attribute="unit.ranked")
    monthly_reward = fields.Nested(MonthlyRewardSchema, allow_none=True, attribute="unit.monthly")
    quarterly_reward = fields.Nested(QuarterlyRewardSchema, allow_none=True, attribute="unit.quarterly")
    fusion = fields.Nested(FusionSchema, allow_none=True,
                           metadata={"description": "null for a quarter or without an own score"})
    flags = fields.List(fields.String(), required=True,
                        metadata={"description": "last_place, shortlisted, full_marks_streak, incomplete"})


class BinSchema(ma.Schema):
    low = Score(required=True)
    high = Score(required=True, metadata={"description": "a band holds low <= score < high"})
    count = fields.Integer(required=True)


class CategoryTableSchema(ma.Schema):
    category = fields.String(required=True)
    rows = fields.List(fields.Nested(UnitRowSchema), required=True, metadata={"description": "best first"})
    histogram = fields.List(fields.Nested(BinSchema), required=True)


class VisibilitySchema(ma.Schema):
    everything = fields.Boolean(required=True)
    own_unit = fields.String(allow_none=True)
    head_of = fields.String(allow_none=True, metadata={"description": "the unit whose pages and people I see"})
    categories = fields.List(fields.String(), required=True,
                             metadata={"description": "categories whose full ranking I see as a group leader"})


class RatingScoreSchema(ma.Schema):
    score = Score(allow_none=True)
    missing_roles = fields.List(fields.String(), required=True)
    complete = fields.Boolean(required=True)


class PoliticalItemSchema(ma.Schema):
    code = fields.String(required=True)
    text_zh = fields.String(required=True)
    text_en = fields.String(required=True)
    deduction = Score(required=True)
    veto = fields.Boolean(required=True)


class PoliticalSchema(ma.Schema):
    deduction = Score(required=True)
    failed = fields.Boolean(required=True)
    items = fields.List(fields.Nested(PoliticalItemSchema), required=True)


class PersonResultSchema(ma.Schema):
    username = fields.String(required=True)
    name = fields.String(required=True)
    unit_code = fields.String(allow_none=True)
    rating = fields.Nested(RatingScoreSchema, required=True, metadata={"description": "weighted by rater role"})
    political = fields.Nested(PoliticalSchema, required=True)
    adjustments = Score(required=True)
    score = Score(allow_none=True)
    shortlisted = fields.Boolean(required=True)
    full_marks_streak = fields.Boolean(required=True)


class ResultsJobSchema(ma.Schema):
    """The background job recomputing a period's results (a work queue other than `inline`)."""

    label = fields.String(required=True)
    job_id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"description": "queued, running, done or failed"})
    percent = fields.Integer(required=True, metadata={"description": "0..100"})
    stage = fields.Function(lambda job: job.stage(_language()), metadata={"type": "string"})


def _language() -> str:
    from web.i18n import current_language
    return "en" if current_language().startswith("en") else "zh"


class UpdatingFields(ma.Schema):
    """With a work queue, an answer built from stored results that are being recomputed says so."""

    updating = fields.Function(lambda page: page.updating is not None, metadata={
        "type": "boolean", "description": "true: these are the stored results of before the last change; "
        "a job is recomputing them (`job`); ask again later for the fresh ones"})
    job = fields.Nested(ResultsJobSchema, allow_none=True, attribute="updating",
                        metadata={"description": "the recompute job while `updating`, else null"})


class ResultsSchema(UpdatingFields):
    label = fields.String(required=True)
    months = fields.List(fields.String(), required=True)
    quarter = fields.Boolean(required=True)
    scheme = fields.String(allow_none=True, metadata={"description": "null: no scheme applies, nothing to show"})
    own_weight = Score(allow_none=True)
    visibility = fields.Nested(VisibilitySchema, required=True, attribute="seen")
    tables = fields.List(fields.Nested(CategoryTableSchema), required=True,
                         metadata={"description": "the rankings I may see, one per category"})
    my_unit = fields.Nested(UnitRowSchema, allow_none=True,
                            metadata={"description": "where my unit stands (its breakdown only if I may see it)"})
    me = fields.Nested(PersonResultSchema, allow_none=True)


class AreaLineSchema(ma.Schema):
    code = fields.String(required=True)
    name = Bilingual(required=True)
    weight = Score(required=True, metadata={"description": "percent of the own score"})
    score = Score(allow_none=True)


class AdjustmentSchema(ma.Schema):
    id = fields.Integer(required=True)
    period = fields.String(required=True)
    kind = fields.String(required=True, metadata={"description": "like or error"})
    points = Score(required=True)
    reason = fields.String(required=True)
    evidence = fields.String(allow_none=True)
    source = fields.String(allow_none=True)
    created_by = fields.String(required=True)
    created_at = ZonedDateTime(required=True)


class StaffLineSchema(ma.Schema):
    username = fields.String(required=True)
    name = fields.String(required=True)
    position = fields.String(allow_none=True)
    result = fields.Nested(PersonResultSchema, allow_none=True)

    @ma.pre_dump
    def from_tuple(self, line, **_kwargs):
        username, name, position, result = line
        return {"username": username, "name": name, "position": position, "result": result}


class TrendPointSchema(ma.Schema):
    month = fields.String(required=True)
    fused = Score(allow_none=True)
    rank = fields.Integer(allow_none=True)
    size = fields.Integer(allow_none=True)


class UnitResultPageSchema(UpdatingFields):
    label = fields.String(required=True)
    quarter = fields.Boolean(required=True)
    unit = fields.Nested(UnitRowSchema, required=True, attribute="row")
    areas = fields.List(fields.Nested(AreaLineSchema), required=True)
    adjustments = fields.List(fields.Nested(AdjustmentSchema), required=True)
    people = fields.List(fields.Nested(StaffLineSchema), allow_none=True,
                         metadata={"description": "null: not mine to see (only the unit's head and the office)"})
    trend = fields.List(fields.Nested(TrendPointSchema), required=True, metadata={"description": "oldest first"})


class RoleLineSchema(ma.Schema):
    role = fields.String(required=True)
    name = Bilingual(required=True)
    weight = Score(required=True)
    mean = Score(allow_none=True, metadata={"description": "null: nobody in this role rated"})
    count = fields.Integer(required=True)


class RatingSchema(ma.Schema):
    period = fields.String(required=True)
    rater = fields.String(required=True)
    role = fields.String(required=True)
    score = Score(required=True)
    comment = fields.String(allow_none=True)

    @ma.pre_dump
    def from_tuple(self, line, **_kwargs):
        return dict(zip(("period", "rater", "role", "score", "comment"), line))


class FindingSchema(ma.Schema):
    period = fields.String(required=True)
    item_code = fields.String(required=True)
    note = fields.String(allow_none=True)

    @ma.pre_dump
    def from_tuple(self, line, **_kwargs):
        return dict(zip(("period", "item_code", "note"), line))


class PersonResultPageSchema(UpdatingFields):
    label = fields.String(required=True)
    username = fields.String(required=True)
    name = fields.String(required=True)
    unit_code = fields.String(allow_none=True)
    unit_name = fields.String(allow_none=True)
    result = fields.Nested(PersonResultSchema, allow_none=True,
                           metadata={"description": "null: nobody has rated the person in this period"})
    roles = fields.List(fields.Nested(RoleLineSchema), required=True)
    ratings = fields.List(fields.Nested(RatingSchema), required=True)
    findings = fields.List(fields.Nested(FindingSchema), required=True,
                           metadata={"description": "political check findings"})
    may_open_unit = fields.Boolean(required=True)
