"""The fast path must take the jieba path's decisions on real text (issue 9: on at least 99.5%
of them; jieba's cut can depend on context a fixed pattern cannot see: 新安江|水污染 but
江水|污染)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.config import default_config
from monitor.nlp.scanners import AhoScanner, JiebaScanner, boundary_patterns
from monitor.service import Classifier


def _rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in path.open(encoding="utf-8")]


def test_fast_path_takes_jiebas_decisions_on_cec_and_weibo(shared_data: Path) -> None:
    corpora = shared_data / "corpora"
    reserved = set((corpora / "ced_reserved_idx.txt").read_text().split())
    cec = [f"{r['title']}\n{r['text']}" for r in _rows(corpora / "cec_dev.jsonl")]
    weibo = [str(r["text"]) for r in _rows(corpora / "ced_original_microblogs.jsonl")
             if str(r["idx"]) not in reserved]  # fmt: skip
    cfg = default_config()
    fast = Classifier.from_config(cfg, engine="fast")
    slow = Classifier.from_config(cfg, engine="jieba")
    differ = []
    for text in cec + weibo:
        a, b = fast.classify_text("a", text), slow.classify_text("b", text)
        if (a.category, a.is_incident) != (b.category, b.is_incident):
            differ.append((text[:30], a.category, b.category))
    assert len(cec) == 314 and len(weibo) > 3000
    assert len(differ) <= 0.005 * len(cec + weibo), differ


def test_scanners_agree_on_leftmost_longest_hits() -> None:
    vocab = ["资阳", "资阳市", "中毒", "食物中毒", "火灾"]
    text = "资阳市发生食物中毒，资阳另有火灾"
    aho, jb = AhoScanner(vocab), JiebaScanner(vocab)
    expected = [("资阳市", 0), ("食物中毒", 5), ("资阳", 10), ("火灾", 14)]
    assert aho.hits(text) == expected
    assert jb.hits(text) == expected


def test_boundary_patterns_come_back_from_the_disk_cache_and_survive_damage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    build = boundary_patterns.__wrapped__  # past the in-process cache
    vocab, blocked = frozenset(["山火", "人质", "中毒"]), frozenset(["道德滑坡"])
    first = build(vocab, blocked)
    assert "釜山火" in first and first["釜山火"] == ()  # 釜山|火炉: 山火 is not a word there
    [cached] = (tmp_path / "yuqing-monitor").glob("boundaries-*.msgpack")
    assert build(vocab, blocked) == first
    cached.write_bytes(b"\x00not msgpack")
    assert build(vocab, blocked) == first  # asked jieba again
    assert build(vocab | {"滑坡"}, blocked) != first  # another vocabulary, another entry
