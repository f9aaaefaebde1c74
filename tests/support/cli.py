"""Run the `kaohe` command in a subprocess, as an operator would, against a chosen database."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cli_runner(database_url: str):
    env = {"KAOHE_DATABASE_URL": database_url, "PATH": "/usr/bin:/bin", "KAOHE_WORKFLOWS_DIR": str(ROOT / "workflows")}

    def run(*args: str, language: str = "zh_CN") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "web.cli", *args], cwd=ROOT, capture_output=True, text=True,
                              env=env | {"KAOHE_LANGUAGE": language}, timeout=120, check=False)
    return run
