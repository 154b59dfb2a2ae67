"""Locate ../shared/data and read its JSONL files (read in place, never copied)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("YUQING_SHARED_DATA", ROOT.parent / "shared" / "data"))

CEC_TO_OURS = {
    "交通事故": "traffic_accident",
    "火灾": "fire",
    "地震": "natural_disaster",
    "食物中毒": "food_drug",
    "环境污染": "environment",
    "恐怖袭击": "public_security",
    "新冠疫情": "public_health",
}


def read_jsonl(relative: str) -> list[dict[str, Any]]:
    path = SHARED / relative
    if not path.is_file():
        sys.exit(f"reference data not found: {path} (set YUQING_SHARED_DATA)")
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def cec_text(row: dict[str, Any]) -> str:
    return f"{row['title']}\n{row['text']}"
