"""The engine must never depend on the web layer (DESIGN.md §1): checked on the source itself."""
from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "engine"
FORBIDDEN = ("flask", "werkzeug", "jinja2", "web")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_engine_imports_no_web_framework():
    offenders = {}
    for path in ENGINE.rglob("*.py"):
        bad = sorted(m for m in imported_modules(path) if m.split(".")[0] in FORBIDDEN)
        if bad:
            offenders[str(path.relative_to(ENGINE.parent))] = bad
    assert offenders == {}
    assert len(list(ENGINE.rglob("*.py"))) > 10  # the walk really looked at the engine
