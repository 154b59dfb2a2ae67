"""Builders for realistic posts and domain states, shared by the integration tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

from monitor.config import load_config
from monitor.domain import incidents
from monitor.domain.model import Post
from monitor.domain.policy import IncidentParams
from monitor.domain.state import Outcome
from monitor.service import Classifier

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)

BLAST = "资阳市雁江区宝台镇一化工厂发生爆炸，已造成12人死亡，多人受伤，现场浓烟滚滚。"
SCHOOL = "安岳县石羊镇中心小学学生午餐后出现呕吐腹泻，疑似食物中毒，20余名学生送医。"
FIRE = "乐至县天池街道一居民楼发生火灾，1人受伤，消防正在扑救。"


def post(pid: str, text: str, minutes: float = 0, **kw: object) -> Post:
    at = T0 + timedelta(minutes=minutes)
    return Post(id=pid, text=text, source="weibo", published_at=at, observed_at=at, **kw)  # type: ignore[arg-type]


@cache
def classifier() -> Classifier:
    return Classifier.from_config(load_config())


def opened(p: Post) -> Outcome:
    cls = classifier().classify(p)
    params = IncidentParams()
    decision = incidents.assign([], p, cls, params, home="512000")
    return incidents.open_incident(p, cls, params, decision)
