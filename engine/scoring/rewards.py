"""Monthly and quarterly rewards, read from editable DMN decision tables (seed 004 "评价结果融合").

The numbers live in ``workflows/monthly_rewards.dmn`` and ``workflows/quarterly_rewards.dmn``, not
here: a process owner edits them in dmn-js and the next evaluation uses the new text. Both tables
take the two half-ranks of ranking.Ranked, with 0 for "not in that half" so the cells stay simple
Python (``1``, ``? in (1, 2)``, ``-`` for any):

* monthly_rewards:   upper_rank, lower_rank → head_pct, deputy_pct          (percent points)
* quarterly_rewards: upper_rank, lower_rank → head_yuan, deputy_yuan, staff_pct

Cells are evaluated by SpiffWorkflow's own DMN engine, through kaohe's restricted script engine
(never SpiffWorkflow's default eval). Hit policy UNIQUE means "first matching rule" in
SpiffWorkflow, so each table ends with a catch-all rule. A table that gives no value or a value
that is not a number raises RewardTableError naming the decision.

Speed: a table is parsed and compiled once per distinct XML text (``from_xml`` is cached), and,
because a decision table is a function of its inputs only, each table remembers its result per
distinct input. Ranks are small integers, so 1,000 units cost a handful of real evaluations. (So
cells must depend on the inputs only: a reward rule has no business reading the clock.)

Write ``? in (1, 2)``, not a bare ``in (1, 2)``: SpiffWorkflow 3.2.0 glues the input expression and
the cell together without a space, which gives ``upper_rankin (1, 2)``, a NameError.
"""
from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

from lxml import etree
from SpiffWorkflow.dmn.specs.model import HitPolicy
from SpiffWorkflow.spiff.parser import VALIDATOR, SpiffBpmnParser

from engine.bpmn.expressions import expression_problems
from engine.bpmn.scripting import make_script_engine, original_error
from engine.scoring.errors import RewardTableError
from engine.scoring.numbers import round_money
from engine.scoring.ranking import Ranked
from engine.settings import PROJECT_ROOT

MONTHLY_DECISION_ID = "monthly_rewards"
QUARTERLY_DECISION_ID = "quarterly_rewards"
DEFAULT_WORKFLOWS_DIR = PROJECT_ROOT / "workflows"
_MEMO_LIMIT = 4096      # distinct inputs remembered per table; a reward table sees a few dozen


class RewardTable:
    """One compiled DMN decision table; ``evaluate({"upper_rank": 1, "lower_rank": 0})``."""

    def __init__(self, decision_id: str, name: str, dmn_engine, source_name: str):
        self.decision_id = decision_id
        self.name = name
        self.source_name = source_name
        self.output_names = tuple(o.name or o.label for o in dmn_engine.decision_table.outputs)
        self._dmn_engine = dmn_engine
        # An adapter, not a mock: DMNEngine.result(task) reads only task.data and
        # task.workflow.script_engine; when a cell fails, SpiffWorkflow's WorkflowTaskException also
        # reads task.task_spec.bpmn_name, task.workflow.spec.file and task.workflow.top_workflow.
        # Evaluating a table needs no workflow, so these few attributes stand in for one.
        self._workflow = SimpleNamespace(script_engine=make_script_engine(),
                                         spec=SimpleNamespace(file=source_name))
        self._workflow.top_workflow = self._workflow
        self._task_spec = SimpleNamespace(bpmn_name=name)
        self._memo: dict[tuple, dict] = {}

    @classmethod
    def from_xml(cls, text: str | bytes, decision_id: str, *, source_name: str | None = None) -> RewardTable:
        """Parse and compile `decision_id` from DMN XML text; the same text gives the same cached table."""
        data = text.encode("utf-8") if isinstance(text, str) else text   # lxml refuses str with a declaration
        return _compile(data, decision_id, source_name or f"{decision_id}.dmn")

    def evaluate(self, inputs: Mapping) -> dict:
        """The outputs of the first matching rule ({} if none matches), by output name."""
        key = _memo_key(inputs)
        if key is not None and key in self._memo:
            return dict(self._memo[key])
        task = SimpleNamespace(data=dict(inputs), workflow=self._workflow, task_spec=self._task_spec)
        try:
            result = dict(self._dmn_engine.result(task))
        except Exception as error:  # Spiff wraps whatever a cell raised; the cause is kept
            cause = original_error(error)
            raise RewardTableError(f"决策表「{self.name}」（{self.decision_id}）计算出错：{cause}",
                                   f"decision table '{self.decision_id}' failed: {error}") from error
        if key is not None and len(self._memo) < _MEMO_LIMIT:
            self._memo[key] = result
        return dict(result)

    def __repr__(self) -> str:
        return f"RewardTable({self.decision_id!r}, outputs={self.output_names})"


def _memo_key(inputs: Mapping) -> tuple | None:
    key = tuple(sorted(inputs.items()))
    try:
        hash(key)
    except TypeError:       # a list or dict input: evaluate every time
        return None
    return key


@functools.lru_cache(maxsize=64)
def _compile(data: bytes, decision_id: str, source_name: str) -> RewardTable:
    def refuse(zh: str, en: str):
        return RewardTableError(f"决策表 {decision_id}（{source_name}）无法使用：{zh}",
                                f"decision table {decision_id} ({source_name}) is unusable: {en}")
    try:
        root = etree.fromstring(data)
    except etree.XMLSyntaxError as error:
        raise refuse(f"XML 格式错误：{error}", f"malformed XML: {error}") from None
    unsafe = expression_problems(source_name, root)     # the same check a deployment makes
    if unsafe:
        raise refuse("；".join(p.zh for p in unsafe), "; ".join(p.en for p in unsafe))
    parser = SpiffBpmnParser(validator=VALIDATOR)       # with a validator Spiff checks DMN against its XSD
    try:
        parser.add_dmn_xml(root, filename=source_name)
        dmn_engine = parser.get_engine(decision_id, None)
        name = parser.dmn_parsers[decision_id].decision.name or decision_id
    except Exception as error:  # noqa: BLE001 - Spiff raises ValidationException, IndexError, KeyError...
        raise refuse(f"{type(error).__name__}: {error}", f"{type(error).__name__}: {error}") from None
    if dmn_engine.decision_table.hit_policy != HitPolicy.UNIQUE.value:
        raise refuse("命中策略须为 UNIQUE（取第一条命中的规则）",
                     "the hit policy must be UNIQUE (first matching rule)")
    return RewardTable(decision_id, name, dmn_engine, source_name)


@dataclass(frozen=True)
class MonthlyReward:
    head_pct: Decimal       # change of the head's (正职) monthly bonus, percent points
    deputy_pct: Decimal     # change of the deputy's (副职) monthly bonus, percent points


@dataclass(frozen=True)
class QuarterlyReward:
    head_yuan: Decimal      # whole yuan, negative = deduction
    deputy_yuan: Decimal
    staff_pct: Decimal      # change of every employee's monthly bonus, percent points


def rank_inputs(ranked: Ranked) -> dict[str, int]:
    """The tables' inputs for a ranked unit: 0 stands for "not in that half"."""
    return {"upper_rank": ranked.upper_rank or 0, "lower_rank": ranked.lower_rank or 0}


def monthly_reward(ranked: Ranked, table: RewardTable) -> MonthlyReward:
    values = _numbers(table, table.evaluate(rank_inputs(ranked)), ("head_pct", "deputy_pct"))
    return MonthlyReward(values["head_pct"], values["deputy_pct"])


def quarterly_reward(ranked: Ranked, table: RewardTable) -> QuarterlyReward:
    values = _numbers(table, table.evaluate(rank_inputs(ranked)), ("head_yuan", "deputy_yuan", "staff_pct"))
    return QuarterlyReward(round_money(values["head_yuan"]), round_money(values["deputy_yuan"]),
                           values["staff_pct"])


def load_default_tables(workflows_dir: Path | None = None) -> tuple[RewardTable, RewardTable]:
    """(monthly, quarterly) from the project's workflows/*.dmn. The files are read on every call, so an
    edited table takes effect at once; an unchanged text is not compiled again."""
    directory = Path(workflows_dir) if workflows_dir is not None else DEFAULT_WORKFLOWS_DIR
    tables = []
    for decision_id in (MONTHLY_DECISION_ID, QUARTERLY_DECISION_ID):
        path = directory / f"{decision_id}.dmn"
        try:
            text = path.read_bytes()
        except OSError as error:
            raise RewardTableError(f"找不到决策表文件 {path}：{error.strerror}",
                                   f"cannot read decision table file {path}: {error.strerror}") from None
        tables.append(RewardTable.from_xml(text, decision_id, source_name=path.name))
    return tables[0], tables[1]


def _numbers(table: RewardTable, result: dict, names: tuple[str, ...]) -> dict[str, Decimal]:
    missing = [name for name in names if name not in result]
    if missing:
        raise RewardTableError(
            f"决策表「{table.name}」（{table.decision_id}）没有给出 {'、'.join(missing)}（没有规则命中或缺少该输出列）",
            f"decision table '{table.decision_id}' gave no {', '.join(missing)} "
            "(no rule matched, or the output column is missing)")
    values = {}
    for name in names:
        value = result[name]
        number = None
        if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
            number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        if number is None or not number.is_finite():
            raise RewardTableError(
                f"决策表「{table.name}」（{table.decision_id}）的输出 {name} 不是数字：{value!r}",
                f"decision table '{table.decision_id}': output {name} is not a number: {value!r}")
        values[name] = number
    return values
