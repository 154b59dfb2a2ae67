"""Running `monitor replay` as scripts do: a child process, this worktree's code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import ROOT


def monitor(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "monitor", *map(str, args)]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def incidents(report: Path) -> list[dict[str, Any]]:
    return json.loads((report / "incidents.json").read_text("utf-8"))


def replay_under(rules: str, history: Path, report: Path) -> subprocess.CompletedProcess[str]:
    """`monitor replay` of `history` into `report` under `rules` (YAML text, written beside the
    history as rules.yaml, so a file it names is found there too); it must succeed."""
    path = history.parent / "rules.yaml"
    path.write_text(rules, "utf-8")
    done = monitor("replay", history, "--report", report, "--rules", path, "--quiet")
    assert done.returncode == 0, done.stderr
    return done


def whatif(report: Path) -> list[dict[str, Any]]:
    return json.loads((report / "whatif.json").read_text("utf-8"))
