"""Which inspection group inspects which unit: never its own, and the load spread evenly.

Seed 001: "A inspects B, C, D; B inspects A, E, F". A group is formed from people of one or more
units (its home units); it must never inspect a home unit. Every unit of the round is inspected by
exactly one group. The proposal gives each unit to the least-loaded group that may take it, going
through the units most constrained first, so loads differ by at most one whenever that is possible;
the organiser may then edit it, and `validate_assignment` refuses an edit that breaks the rules.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

from engine.errors import Message, ValidationFailed


class AssignmentRejected(ValidationFailed):
    """The assignment breaks a rule; `field_errors` names each unit or group concerned."""


def _eligible(unit: str, homes: Mapping[str, Sequence[str]]) -> list[str]:
    return [group for group, own in homes.items() if unit not in own]


def propose_assignment(homes: Mapping[str, Sequence[str]], units: Sequence[str]) -> dict[str, list[str]]:
    """A balanced assignment {group: [units]} where no group inspects one of its home units."""
    if not homes:
        raise AssignmentRejected("至少需要一个检查组", "at least one inspection group is needed")
    impossible = [u for u in units if not _eligible(u, homes)]
    if impossible:
        raise AssignmentRejected("有的单位没有可以检查它的组（每个组都来自该单位）",
                                 "some units have no group that may inspect them",
                                 field_errors={u: Message("没有非本单位的检查组", "no group from outside the unit")
                                               for u in impossible})
    load = {group: [] for group in homes}
    # Most constrained units first, then in the given order: keeps the loads even.
    order = sorted(range(len(units)), key=lambda i: (len(_eligible(units[i], homes)), i))
    for index in order:
        unit = units[index]
        group = min(_eligible(unit, homes), key=lambda g: (len(load[g]), list(homes).index(g)))
        load[group].append(unit)
    position = {unit: i for i, unit in enumerate(units)}
    return {group: sorted(assigned, key=position.__getitem__) for group, assigned in load.items()}


def validate_assignment(assignment: Mapping[str, Sequence[str]], homes: Mapping[str, Sequence[str]],
                        units: Sequence[str]) -> None:
    """Refuse an (edited) assignment where a group inspects its own unit, a unit is inspected twice
    or not at all, or an unknown group or unit appears. Every problem is named."""
    problems: dict[str, Message] = {}
    seen: dict[str, str] = {}
    for group, assigned in assignment.items():
        if group not in homes:
            problems[group] = Message(f"未知的检查组 {group}", f"unknown inspection group {group}")
            continue
        for unit in assigned:
            if unit not in units:
                problems[f"{group}.{unit}"] = Message(f"{unit} 不在本轮检查范围内", f"{unit} is not in this round")
            elif unit in homes[group]:
                problems[f"{group}.{unit}"] = Message(f"检查组 {group} 不能检查本单位 {unit}",
                                                      f"group {group} may not inspect its own unit {unit}")
            elif unit in seen:
                problems[f"{group}.{unit}"] = Message(f"{unit} 已由检查组 {seen[unit]} 检查",
                                                      f"{unit} is already inspected by group {seen[unit]}")
            else:
                seen[unit] = group
    for unit in units:
        if unit not in seen and not any(key.endswith(f".{unit}") for key in problems):
            problems[unit] = Message(f"{unit} 没有安排检查组", f"no group inspects {unit}")
    if problems:
        raise AssignmentRejected("检查分工不符合规则，未保存", "the assignment breaks the rules and was not saved",
                                 field_errors=problems)


def assignment_problems(assignment: Mapping[str, Sequence[str]], homes: Mapping[str, Sequence[str]],
                        units: Sequence[str]) -> list[str]:
    """The same rules as a list of "中文 / English" lines (empty when fine), for a diagram's gateway:
    an edited assignment that breaks them goes back to the organiser with the reasons."""
    try:
        validate_assignment(assignment, homes, units)
    except AssignmentRejected as rejected:
        return [f"{m.zh} / {m.en}" for m in rejected.field_errors.values()]
    return []
