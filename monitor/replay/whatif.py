"""What-if: one history replayed under two configs, compared incident by incident.

    changes = compare(base, alt)         # incidents.json lists of the two replays
    print(render(changes))               # Simplified Chinese, one block per incident

Incidents are matched by the posts they hold (an incident may get another id when another
post opened it): each pair shares the most posts; what is left is found under one config only.
For a pair it reports detection earlier or later and by how long, the grade, the lead and the
responsible bodies, and breaches added or avoided (by clock and cycle).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

BEIJING = timezone(timedelta(hours=8))
RULE_LABELS = {"release": "权威信息发布", "press_conference": "新闻发布会",
               "follow_up": "持续发布权威信息", "answer": "回应关切"}  # fmt: skip

Incident = dict[str, Any]


def _t(s: str | None) -> datetime | None:
    return datetime.fromisoformat(s.replace("Z", "+00:00")) if s else None


Pair = tuple[Incident | None, Incident | None]


def _match(base: list[Incident], alt: list[Incident]) -> list[Pair]:
    owner: dict[str, int] = {}
    for j, inc in enumerate(alt):
        for p in inc["post_ids"]:
            owner[p] = j
    candidates: list[tuple[int, int, int]] = []
    for i, inc in enumerate(base):
        shared: dict[int, int] = {}
        for p in inc["post_ids"]:
            if p in owner:
                shared[owner[p]] = shared.get(owner[p], 0) + 1
        candidates.extend((-n, i, j) for j, n in shared.items())
    pairs: list[Pair] = []
    used_b: set[int] = set()
    used_a: set[int] = set()
    for _, i, j in sorted(candidates):  # most shared posts first
        if i in used_b or j in used_a:
            continue
        used_b.add(i)
        used_a.add(j)
        pairs.append((base[i], alt[j]))
    pairs.extend((b, None) for i, b in enumerate(base) if i not in used_b)
    pairs.extend((None, a) for j, a in enumerate(alt) if j not in used_a)
    return sorted(pairs, key=lambda p: _first(p))


def _first(pair: Pair) -> tuple[str, str]:
    inc = pair[0] or pair[1]
    assert inc is not None
    return ((inc.get("first_post") or {}).get("at") or "", inc["id"])


def _breaches(inc: Incident) -> dict[tuple[str, int], str]:
    return {
        (e["clock"], int(e.get("cycle") or 0)): e["at"]
        for e in inc["events"]
        if e["kind"] == "breach"
    }


def compare(base: list[Incident], alt: list[Incident]) -> list[dict[str, Any]]:
    """One entry per incident that differs: {base, alt, title, changes: {...}}."""
    out = []
    for b, a in _match(base, alt):
        inc = a or b
        assert inc is not None
        entry: dict[str, Any] = {
            "base": b["id"] if b else None, "alt": a["id"] if a else None,
            "title": inc["title"], "changes": {},
        }  # fmt: skip
        ch = entry["changes"]
        if b is None or a is None:
            ch["detected"] = "only_alt" if b is None else "only_base"
            out.append(entry)
            continue
        tb, ta = _t(b["detected_at"]), _t(a["detected_at"])
        if tb and ta and tb != ta:
            ch["detection_shift_s"] = int((ta - tb).total_seconds())
            ch["detected_at"] = [b["detected_at"], a["detected_at"]]
        if b["grade"] != a["grade"]:
            ch["grade"] = [b["grade"], a["grade"]]
        if b.get("lead") != a.get("lead"):
            ch["lead"] = [b.get("lead"), a.get("lead")]
        if set(b["bodies"]) != set(a["bodies"]):
            ch["bodies_added"] = sorted(set(a["bodies"]) - set(b["bodies"]))
            ch["bodies_removed"] = sorted(set(b["bodies"]) - set(a["bodies"]))
        bb, ba = _breaches(b), _breaches(a)
        added = sorted(set(ba) - set(bb))
        avoided = sorted(set(bb) - set(ba))
        if added:
            ch["breaches_added"] = [{"clock": c, "cycle": n, "at": ba[(c, n)]} for c, n in added]
        if avoided:
            ch["breaches_avoided"] = [
                {"clock": c, "cycle": n, "at": bb[(c, n)]} for c, n in avoided
            ]
        if ch:
            out.append(entry)
    return out


def _bj(s: str) -> str:
    t = _t(s)
    assert t is not None
    return t.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def duration_zh(seconds: int) -> str:
    s = abs(seconds)
    h, rem = divmod(s, 3600)
    m = rem // 60
    if h and m:
        return f"{h} 小时 {m} 分钟"
    if h:
        return f"{h} 小时"
    return f"{m} 分钟" if m else f"{s} 秒"


def _clock(c: dict[str, Any]) -> str:
    label = RULE_LABELS.get(c["clock"], c["clock"])
    cycle = f"第 {c['cycle'] + 1} 轮" if c["clock"] == "follow_up" else ""
    return f"{label}{cycle}（{_bj(c['at'])}）"


def lines(entry: dict[str, Any]) -> list[str]:
    ch = entry["changes"]
    ident = entry["alt"] or entry["base"]
    out = [f"事件 {ident}：{entry['title']}"]
    if ch.get("detected") == "only_alt":
        out.append("  仅在新规则下发现（原规则未识别为事件）")
    if ch.get("detected") == "only_base":
        out.append("  新规则下未发现（原规则识别为事件）")
    if "detection_shift_s" in ch:
        shift = ch["detection_shift_s"]
        word = "提前" if shift < 0 else "推迟"
        was, now = ch["detected_at"]
        when = f"原 {_bj(was)} → 现 {_bj(now)}，北京时间"
        out.append(f"  发现时间{word} {duration_zh(shift)}（{when}）")
    if "grade" in ch:
        out.append(f"  分级不同：原 {ch['grade'][0]} 级 → 现 {ch['grade'][1]} 级")
    if "lead" in ch:
        was, now = (x or "无" for x in ch["lead"])
        out.append(f"  牵头单位不同：原 {was} → 现 {now}")
    if "bodies_added" in ch or "bodies_removed" in ch:
        parts = []
        if ch.get("bodies_added"):
            parts.append("新增 " + "、".join(ch["bodies_added"]))
        if ch.get("bodies_removed"):
            parts.append("不再 " + "、".join(ch["bodies_removed"]))
        out.append("  责任单位不同：" + "；".join(parts))
    for c in ch.get("breaches_added", []):
        out.append(f"  新增超时：{_clock(c)}")
    for c in ch.get("breaches_avoided", []):
        out.append(f"  避免超时：{_clock(c)}")
    return out


def render(changes: list[dict[str, Any]], base_name: str, alt_name: str) -> str:
    head = f"规则对比（原：{base_name}；新：{alt_name}）"
    if not changes:
        return f"{head}\n  两套规则下所有事件的发现、分级、责任单位和超时均相同。"
    body = [line for entry in changes for line in lines(entry)]
    return "\n".join([head, *body, f"共 {len(changes)} 个事件不同。"])
