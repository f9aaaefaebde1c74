"""The political-quality check that comes before every evaluation (政治素质评价前置, seed 002).

Seed 002 describes it as negative quantification: "political requirements" are broken down into
observable behaviours, and each observed behaviour costs points. Here:

* a finding is the code of one observed behaviour from the negative list; a behaviour observed
  twice is two findings and costs twice;
* the check fails when any finding is a veto item (一票否决), or when the deductions add up to
  ``threshold`` points or more (default 10);
* an unknown code is an error, never ignored: a mistyped finding must not pass as "clean".

DEFAULT_NEGATIVE_LIST is the default list; an organisation passes its own ``items``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import lru_cache

from engine.scoring.errors import ScoringError
from engine.scoring.numbers import to_decimal

DEFAULT_FAIL_THRESHOLD = Decimal(10)


@dataclass(frozen=True)
class NegativeItem:
    code: str
    text_zh: str
    text_en: str
    deduction: Decimal
    veto: bool = False      # one finding fails the check, whatever the points


DEFAULT_NEGATIVE_LIST: tuple[NegativeItem, ...] = (
    NegativeItem("political_discipline", "违反政治纪律，公开发表违背党的路线方针政策的言论",
                 "breaking political discipline: speaking publicly against the Party's line and policies",
                 Decimal(10), veto=True),
    NegativeItem("integrity_violation", "违反廉洁规定，收受礼品礼金或利用职务谋取私利",
                 "breaking integrity rules: accepting gifts or money, or using the position for private gain",
                 Decimal(10), veto=True),
    NegativeItem("improper_remarks", "在网络、群聊等场合传播不当言论",
                 "spreading improper remarks online or in chat groups", Decimal(5)),
    NegativeItem("falsification", "弄虚作假，虚报、瞒报工作实绩或数据",
                 "falsifying: overstating or hiding achievements or figures", Decimal(5)),
    NegativeItem("disobey_organisation", "不服从组织安排，讨价还价",
                 "not accepting the organisation's assignments, bargaining over them", Decimal(5)),
    NegativeItem("concealed_personal_matters", "个人有关事项瞒报、漏报",
                 "concealing or omitting personal matters that must be reported", Decimal(4)),
    NegativeItem("shirking_responsibility", "遇事推诿扯皮，不担当、不作为",
                 "shirking responsibility: passing work on, not acting", Decimal(3)),
    NegativeItem("formalism", "搞形式主义、官僚主义，只表态不落实",
                 "formalism and bureaucratism: pledging without delivering", Decimal(3)),
    NegativeItem("absent_from_study", "无故缺席政治理论学习或组织生活",
                 "missing political study or party organisational life without reason", Decimal(2)),
)


@dataclass(frozen=True)
class PoliticalResult:
    deduction: Decimal                  # total points deducted
    failed: bool                        # a veto item, or deduction >= threshold
    items: tuple[NegativeItem, ...]     # one per finding, in the order given


def assess(findings: Sequence[str], items: Sequence[NegativeItem] = DEFAULT_NEGATIVE_LIST,
           threshold: Decimal = DEFAULT_FAIL_THRESHOLD) -> PoliticalResult:
    """Total deduction and verdict for the findings (item codes) of one person in one period."""
    if isinstance(findings, str):       # a single code passed bare would be read letter by letter
        raise ScoringError("发现事项须为代码列表", "findings must be a list of item codes")
    limit = to_decimal(threshold, "threshold")
    if limit <= 0:
        raise ScoringError(f"不合格分数线须大于 0，现为 {limit}", f"the fail threshold must be above 0, got {limit}")
    by_code = _index(tuple(items))
    unknown = sorted({code for code in findings if code not in by_code})
    if unknown:
        raise ScoringError(f"负面清单中没有这些事项：{'、'.join(unknown)}",
                           f"these codes are not on the negative list: {', '.join(unknown)}")
    found = tuple(by_code[code] for code in findings)
    deduction = sum((item.deduction for item in found), Decimal(0))
    failed = any(item.veto for item in found) or deduction >= limit
    return PoliticalResult(deduction=deduction, failed=failed, items=found)


@lru_cache(maxsize=16)  # results assess every person against the same list: check and index it once
def _index(items: tuple[NegativeItem, ...]) -> dict[str, NegativeItem]:
    by_code: dict[str, NegativeItem] = {}
    for item in items:
        if item.code in by_code:
            raise ScoringError(f"负面清单中事项 {item.code} 出现了两次",
                               f"item {item.code} appears twice on the negative list")
        deduction = to_decimal(item.deduction, f"deduction of {item.code}")
        if deduction < 0:
            raise ScoringError(f"事项 {item.code} 的扣分不能为负", f"item {item.code} cannot deduct a negative amount")
        by_code[item.code] = replace(item, deduction=deduction)
    return by_code
