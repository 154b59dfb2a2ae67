"""The fast path must give the jieba path's category on the CEC development set."""

from __future__ import annotations

import json
from pathlib import Path

from monitor.config import default_config
from monitor.nlp.scanners import AhoScanner, JiebaScanner
from monitor.service import Classifier


def test_fast_path_matches_jieba_on_every_cec_report(shared_data: Path) -> None:
    rows = [json.loads(x) for x in (shared_data / "corpora/cec_dev.jsonl").open(encoding="utf-8")]
    cfg = default_config()
    fast = Classifier.from_config(cfg, engine="fast")
    slow = Classifier.from_config(cfg, engine="jieba")
    differ = []
    for row in rows:
        text = f"{row['title']}\n{row['text']}"
        a, b = fast.classify_text(row["id"], text), slow.classify_text(row["id"], text)
        if (a.category, a.is_incident) != (b.category, b.is_incident):
            differ.append((row["id"], a.category, b.category))
    assert len(rows) == 314
    assert differ == []


def test_scanners_agree_on_leftmost_longest_hits() -> None:
    vocab = ["资阳", "资阳市", "中毒", "食物中毒", "火灾"]
    text = "资阳市发生食物中毒，资阳另有火灾"
    aho, jb = AhoScanner(vocab), JiebaScanner(vocab)
    expected = [("资阳市", 0), ("食物中毒", 5), ("资阳", 10), ("火灾", 14)]
    assert aho.hits(text) == expected
    assert jb.hits(text) == expected
