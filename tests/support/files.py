"""Test diagrams and forms as SourceFile objects, optionally edited on the way."""
from __future__ import annotations

from pathlib import Path

from engine.bpmn.bundle import SourceFile

DATA = Path(__file__).resolve().parent.parent / "data"


def data_file(name: str, replace: dict[str, str] | None = None, *, rename: str | None = None) -> SourceFile:
    content = (DATA / name).read_text(encoding="utf-8")
    for old, new in (replace or {}).items():
        assert old in content, f"{old!r} not in {name}"
        content = content.replace(old, new)
    return SourceFile(rename or name, content)


def review_bundle(**replace: str) -> list[SourceFile]:
    return [data_file("review.bpmn", replace or None), data_file("self_assess.json")]
