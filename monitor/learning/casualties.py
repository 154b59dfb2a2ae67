"""Casualty gold from the CEC annotations, and agreement of extracted figures with it.

Gold per report comes from `casualty_event_mentions`: a mention whose trigger (denoter) names a
field and whose participant spans hold a number. Numbers in the spans are read with cn2an, not
with the extractor's own numeral reader, so the two do not share mistakes. Per field the gold
is the largest mention (a rising toll), except injuries: CEC annotates 3人重伤，14人轻微伤 as
two mentions, so gold injured is max(plain 受伤, 重伤 + 轻伤 + 轻微伤), which is what
"injured = all injured" means. A denied 伤亡/死亡/被困 (polarity negative, 无人员伤亡) with no
numbered mention of the field gives a gold 0.

Scored on title + text, per field, over the reports whose gold has a number:
recall = a number was extracted, precision = of those, the share equal to gold, exact = equal
to gold over all of them. `extra` counts reports with no gold number where a positive number
was extracted; CEC annotates only some mentions, so these are not all wrong.
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import cn2an

from monitor.domain.model import Casualties

FIELDS = ("deaths", "injured", "missing", "trapped")
Gold = dict[str, int]

_DEATH = re.compile("死|亡|遇难|罹难|丧生")
_NOT_DEATH = re.compile("伤亡|或失踪|死守|枯死")
_SERIOUS = re.compile("重伤|伤严重")
_FULL_WIDTH = str.maketrans("０１２３４５６７８９．", "0123456789.")
_SPAN_NUMBER = re.compile(r"(\d+(?:\.\d+)?)(?![\d.]|岁)(余|多)?(万)?(?:人|名|口|位|例|具|个)?")
_MEN_WOMEN = re.compile(r"(\d+)男(\d+)女")


def field_of(denoter: str) -> str | None:
    """Which gold bucket a CEC trigger feeds: a field, or an injury kind."""
    if "失踪" in denoter or "失联" in denoter:
        return None if "或" in denoter else "missing"
    if "被困" in denoter:
        return "trapped"
    if _DEATH.search(denoter) and not _NOT_DEATH.search(denoter):
        return "deaths"
    if "伤" in denoter and "伤亡" not in denoter:
        if _SERIOUS.search(denoter):
            return "serious"
        if "轻微伤" in denoter:
            return "slight"
        return "light" if "轻伤" in denoter else "hurt"
    return None


def span_number(span: str) -> int | None:
    """The head count in a participant span: 6人, 十余人 → 10, 三男两女 → 5, 一家6口 → 6."""
    # cn2an leaves a lone 两 alone (三男两女 → 3男两女), so spell it 二 first.
    with warnings.catch_warnings():  # cn2an warns on spans it cannot read (万余人): no number
        warnings.simplefilter("ignore")
        text = cn2an.transform(span.replace("两", "二"), "cn2an").translate(_FULL_WIDTH)
    pair = _MEN_WOMEN.search(text)
    if pair:
        return int(pair[1]) + int(pair[2])
    found = list(_SPAN_NUMBER.finditer(text))
    if not found:
        return None
    # Prefer a number with a measure word: 一家6口, 一名3岁男童.
    counted = [m for m in found if m.group().endswith(("人", "名", "口", "位", "例", "具", "个"))]
    m = (counted or found)[0]
    return int(float(m[1]) * (10_000 if m[3] else 1))


def gold_of(row: dict[str, Any]) -> Gold:
    buckets: dict[str, int] = {}
    denied: set[str] = set()
    for mention in row.get("casualty_event_mentions") or []:
        denoter = mention["denoter"]
        if mention.get("polarity") == "negative":
            denied.update(_denied_fields(denoter, mention["participants"]))
            continue
        bucket = field_of(denoter)
        numbers = [n for n in map(span_number, mention["participants"]) if n is not None]
        if bucket is None or not numbers:
            continue
        buckets[bucket] = max(buckets.get(bucket, 0), sum(numbers))
    gold: Gold = {f: buckets[f] for f in ("deaths", "missing", "trapped") if f in buckets}
    injured = _gold_injured(buckets)
    if injured is not None:
        gold["injured"] = injured
    for f in denied:
        gold.setdefault(f, 0)
    return gold


def _denied_fields(denoter: str, participants: list[str]) -> set[str]:
    """无人员伤亡 and the like; a denial about one named person says nothing of the toll."""
    if any(p not in ("人员", "未有人员") for p in participants):
        return set()
    if "伤亡" in denoter:
        return {"deaths", "injured"}
    bucket = field_of(denoter)
    return {bucket} if bucket in ("deaths", "trapped", "missing") else set()


def _gold_injured(buckets: dict[str, int]) -> int | None:
    qualified = [buckets[k] for k in ("serious", "light", "slight") if k in buckets]
    plain = buckets.get("hurt")
    if plain is None and not qualified:
        return None
    return max(plain or 0, sum(qualified))


def score(golds: list[Gold], got: list[Casualties]) -> dict[str, float]:
    out: dict[str, float] = {}
    for f in FIELDS:
        pairs = [(g[f], getattr(c, f)) for g, c in zip(golds, got, strict=True) if f in g]
        found = [(g, p) for g, p in pairs if p is not None]
        right = sum(1 for g, p in found if g == p)
        extra = sum(
            1 for g, c in zip(golds, got, strict=True) if f not in g and (getattr(c, f) or 0) > 0
        )
        n = len(pairs)
        out[f"{f}.n"] = float(n)
        out[f"{f}.recall"] = len(found) / n if n else 0.0
        out[f"{f}.precision"] = right / len(found) if found else 0.0
        out[f"{f}.exact"] = right / n if n else 0.0
        out[f"{f}.extra"] = float(extra)
    return out
