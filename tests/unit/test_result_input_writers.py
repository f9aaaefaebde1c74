"""Every module that writes something results are computed from also bumps the stored results'
generations (engine/services/result_inputs.py); a writer that forgets would leave the results pages
showing old figures. tests/integration/test_result_store.py checks each writer's effect; this check
catches a new writer of one of those tables that does not call result_inputs at all."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INPUTS = (r"(ScoreEntry|ScoreAdjustment|PersonRating|PoliticalFinding|EvaluationScheme|SchemeArea|"
          r"SchemeIndicator|DecisionVersion|OrgUnit|Person)")
WRITES = re.compile(rf"\b(insert|delete|update)\({INPUTS}\b|\b{INPUTS}\(|\b{INPUTS}\.__table__")
# Writers that cannot change any result, and why.
HARMLESS = {
    "engine/services/admin_users.py": "creates accounts, switches them on or off: nobody new was rated",
    "engine/services/api_tokens.py": "creates a token's service account, which is never rated",
}


def test_every_writer_of_a_results_input_bumps_the_generations():
    forgetful = []
    for path in sorted((ROOT / "engine").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith("engine/models/") or relative in HARMLESS:
            continue
        text = path.read_text(encoding="utf-8")
        if WRITES.search(text) and "result_inputs" not in text:
            forgetful.append(relative)
    assert forgetful == []


def test_the_harmless_writers_still_exist():
    assert all((ROOT / path).exists() for path in HARMLESS)
