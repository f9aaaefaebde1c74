"""Excellence-performance self-assessment (双培双融, seed 000; DOMAIN.md §6).

diagnosis_total — the GB/T 19580 diagnosis score out of 1000. Seven categories and their points:

    code                 GB/T 19580 item         points  method
    leadership           4.1 领导                    110  ADLI
    strategy             4.2 战略                     90  ADLI
    customers_market     4.3 顾客与市场               90  ADLI
    resources            4.4 资源                    130  ADLI
    process              4.5 过程管理                100  ADLI
    measurement          4.6 测量、分析与改进         80  ADLI
    results              4.7 结果                    400  LeTCI
                                                   ----
                                                   1000

Process categories (4.1–4.6) are judged with ADLI (approach, deployment, learning, integration),
results (4.7) with LeTCI (levels, trends, comparisons, integration). The assessor gives each category
ONE percentage; the category earns ``points × percent / 100``.

Our reading of the scoring bands. The standard's bands are 0–5 %, 10–25 %, 30–45 %, 50–65 %, 70–85 %
and 90–100 %, and scores are given in steps of 5 %. So a percentage must be a whole multiple of 5
between 0 and 100; with that rule every allowed value lies in exactly one band (the gaps between bands,
e.g. 5 < p < 10, contain no multiple of 5), and the band is reported with the category so the report
shows the maturity level (e.g. ``"50–65%"``). 7.5 %, 12 % or 105 % are refused, as are unknown or
missing categories: a diagnosis scores all seven, or it is not a diagnosis. The percentage itself is
kept as the assessor gave it: the band does not round it.

Points are exact Decimals (110 × 5 % = 5.5); the total is rounded once at the end (numbers.round_score),
which for multiples of 5 % never changes anything.

assessor_evaluation — the three dimensions of evaluating self-assessors (seed 000 §2.4): professional
contribution (number of reviews, report quality), political quality (principled, objective,
fact-based) and pioneer role (helping colleagues, sharing knowledge), each 0–100, weighted by default
40 / 30 / 30 (the weights are percent points and must add up to 100).

diagnosis_for_task_data — the same diagnosis as plain JSON values (floats, text) for process data; this
is what the script helper ``diagnosis_total`` exposes to diagrams (workflows/self_assessor.bpmn).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from engine.scoring.errors import ScoringError
from engine.scoring.numbers import HUNDRED, round_score, to_decimal

ADLI, LETCI = "ADLI", "LeTCI"

# code → (Chinese name, English name, points, method); in GB/T 19580 order
EXCELLENCE_CATEGORIES: dict[str, tuple[str, str, Decimal, str]] = {
    "leadership": ("领导", "leadership", Decimal(110), ADLI),
    "strategy": ("战略", "strategy", Decimal(90), ADLI),
    "customers_market": ("顾客与市场", "customers and market", Decimal(90), ADLI),
    "resources": ("资源", "resources", Decimal(130), ADLI),
    "process": ("过程管理", "process management", Decimal(100), ADLI),
    "measurement": ("测量、分析与改进", "measurement, analysis and improvement", Decimal(80), ADLI),
    "results": ("结果", "results", Decimal(400), LETCI),
}
MAXIMUM_POINTS = Decimal(1000)

# (lowest, highest) percent of each band, lowest band first
SCORING_BANDS: tuple[tuple[int, int], ...] = ((0, 5), (10, 25), (30, 45), (50, 65), (70, 85), (90, 100))
STEP = Decimal(5)

DEFAULT_ASSESSOR_WEIGHTS: tuple[Decimal, Decimal, Decimal] = (Decimal(40), Decimal(30), Decimal(30))
ASSESSOR_DIMENSIONS: tuple[tuple[str, str], ...] = (
    ("专业贡献", "professional contribution"), ("政治品质", "political quality"), ("先锋模范作用", "pioneer role"))


@dataclass(frozen=True)
class DiagnosisResult:
    points: dict[str, Decimal]     # category code → points earned, GB/T 19580 order
    total: Decimal                 # out of MAXIMUM_POINTS, rounded once (2 places, half up)
    bands: dict[str, str]          # category code → band label, e.g. "50–65%"
    percents: dict[str, Decimal]   # category code → the percentage given


def band_label(percent) -> str:
    """The scoring band a valid percentage lies in: band_label(55) == "50–65%"."""
    value = _checked_percent("percent", percent)
    for low, high in SCORING_BANDS:
        if low <= value <= high:
            return f"{low}–{high}%"
    raise AssertionError(f"no band for {value}")   # unreachable: every multiple of 5 in 0..100 has one


def diagnosis_total(scores: Mapping[str, object]) -> DiagnosisResult:
    """The diagnosis score of one unit from a percentage per category (all seven, each 0..100 in steps of 5)."""
    if not isinstance(scores, Mapping):
        raise ScoringError("诊断评分须为“类目 → 百分比”的对应表", "the diagnosis scores must map categories to percentages")
    unknown = sorted(str(code) for code in scores if code not in EXCELLENCE_CATEGORIES)
    if unknown:
        raise ScoringError(f"未知的评价类目：{'、'.join(unknown)}（应为 {'、'.join(EXCELLENCE_CATEGORIES)}）",
                           f"unknown categories: {', '.join(unknown)} (expected {', '.join(EXCELLENCE_CATEGORIES)})")
    missing = [code for code in EXCELLENCE_CATEGORIES if code not in scores]
    if missing:
        raise ScoringError(f"缺少类目评分：{'、'.join(EXCELLENCE_CATEGORIES[c][0] for c in missing)}",
                           f"categories not scored: {', '.join(EXCELLENCE_CATEGORIES[c][1] for c in missing)}")
    points, bands, percents = {}, {}, {}
    for code, (zh, en, maximum, _method) in EXCELLENCE_CATEGORIES.items():
        percent = _checked_percent(code, scores[code])
        percents[code] = percent
        points[code] = maximum * percent / HUNDRED
        bands[code] = band_label(percent)
    return DiagnosisResult(points=points, total=round_score(sum(points.values(), Decimal(0))), bands=bands,
                           percents=percents)


def diagnosis_for_task_data(scores: Mapping[str, object]) -> dict:
    """diagnosis_total as JSON-friendly values for process data (the script helper ``diagnosis_total``):
    {"total": 500.0, "maximum": 1000, "points": {code: float}, "bands": {code: "50–65%"}}."""
    result = diagnosis_total(scores)
    return {"total": float(result.total), "maximum": int(MAXIMUM_POINTS),
            "points": {code: float(value) for code, value in result.points.items()},
            "bands": dict(result.bands)}


def assessor_evaluation(professional, political, pioneer,
                        weights: Sequence = DEFAULT_ASSESSOR_WEIGHTS) -> Decimal:
    """Weighted score of one self-assessor: (w1·professional + w2·political + w3·pioneer) / 100."""
    if isinstance(weights, (str, bytes)) or len(weights) != 3:
        raise ScoringError("评价权重须为专业贡献、政治品质、先锋模范作用三项",
                           "the weights must be three: professional, political, pioneer")
    checked_weights = [to_decimal(w, f"weight of {en}") for w, (_zh, en) in zip(weights, ASSESSOR_DIMENSIONS)]
    negative = [dim for w, dim in zip(checked_weights, ASSESSOR_DIMENSIONS) if w < 0]
    if negative:
        raise ScoringError(f"权重不能为负：{'、'.join(zh for zh, _ in negative)}",
                           f"weights cannot be negative: {', '.join(en for _, en in negative)}")
    total_weight = sum(checked_weights, Decimal(0))
    if total_weight != HUNDRED:
        raise ScoringError(f"三项权重之和须为 100%，现为 {total_weight}%",
                           f"the three weights must add up to 100%, they add up to {total_weight}%")
    values = []
    for value, (zh, en) in zip((professional, political, pioneer), ASSESSOR_DIMENSIONS):
        number = to_decimal(value, en)
        if not Decimal(0) <= number <= HUNDRED:
            raise ScoringError(f"{zh}得分须在 0 到 100 之间，现为 {number}",
                               f"the {en} score must be between 0 and 100, got {number}")
        values.append(number)
    return round_score(sum((w * v for w, v in zip(checked_weights, values)), Decimal(0)) / HUNDRED)


def _checked_percent(code: str, value) -> Decimal:
    zh = EXCELLENCE_CATEGORIES[code][0] if code in EXCELLENCE_CATEGORIES else code
    en = EXCELLENCE_CATEGORIES[code][1] if code in EXCELLENCE_CATEGORIES else code
    percent = to_decimal(value, f"{en} percent")
    if not Decimal(0) <= percent <= HUNDRED:
        raise ScoringError(f"{zh}的得分百分比须在 0 到 100 之间，现为 {percent}",
                           f"the {en} percentage must be between 0 and 100, got {percent}")
    if percent % STEP != 0:
        raise ScoringError(f"{zh}的得分百分比须为 5 的整数倍，现为 {percent}",
                           f"the {en} percentage must be a multiple of 5, got {percent}")
    return percent
