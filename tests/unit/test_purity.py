"""monitor/domain stays pure: import-linter bans frameworks and I/O; no wall clock reads."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLOCK = re.compile(r"\b(datetime\.now|datetime\.utcnow|date\.today|time\.time|monotonic)\s*\(")


def test_import_contracts_hold() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe, "import-linter is a dev dependency; install with pip install -e '.[dev]'"
    out = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr


def test_domain_never_reads_the_clock() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in (ROOT / "monitor" / "domain").rglob("*.py")
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if CLOCK.search(line) and not line.lstrip().startswith("#")
    ]
    assert offenders == []
