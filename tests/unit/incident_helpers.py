"""Builders for the pure incident-domain tests: posts, classifications and a fake clock.

Time is a plain datetime handed to the domain; `at(h, m)` is T0 plus an offset.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone

from monitor.domain.events import Event
from monitor.domain.incidents import Decision, add_post, assign, open_incident
from monitor.domain.model import Casualties, Classification, Grade, Location, Post, Responsible
from monitor.domain.policy import IncidentParams
from monitor.domain.state import Action, IncidentState, Outcome

CST = timezone(timedelta(hours=8))
T0 = datetime(2024, 5, 1, 8, 0, tzinfo=CST)
PARAMS = IncidentParams()
HOME = "5120"

ANYUE = Location(
    in_jurisdiction=True, city="资阳市", city_code="5120", county="安岳县", county_code="512021"
)
YANJIANG = Location(
    in_jurisdiction=True, city="资阳市", city_code="5120", county="雁江区", county_code="512002"
)
CITY_ONLY = Location(in_jurisdiction=True, city="资阳市", city_code="5120")
BODIES = Responsible(level="city", lead="市消防救援支队", co=("安岳县人民政府",))

FIRE_TEXT = "安岳县岳阳镇一家具厂突发火灾，现场浓烟滚滚，消防正在全力扑救，已造成多人被困"
FIRE_TEXT_2 = "安岳县岳阳镇家具厂火灾最新消息：消防救援人员已救出被困人员，火势基本得到控制"
OTHER_FIRE = "雁江区临江镇一处居民楼起火，楼道电动车充电引发，住户自行疏散无人受伤"
FOOD_TEXT = "安岳县某小学食堂午餐后多名学生出现呕吐腹泻症状，疑似食物中毒，已送医观察"


def at(hours: float = 0, minutes: float = 0) -> datetime:
    return T0 + timedelta(hours=hours, minutes=minutes)


def post(
    pid: str,
    text: str = FIRE_TEXT,
    hours: float = 0,
    minutes: float = 0,
    observed: datetime | None = None,
    **kw: object,
) -> Post:
    t = at(hours, minutes)
    return Post(id=pid, text=text, published_at=t, observed_at=observed or t, **kw)  # type: ignore[arg-type]


def classified(
    pid: str,
    category: str = "fire",
    grade: Grade | None = Grade.IV,
    location: Location = ANYUE,
    responsible: Responsible = BODIES,
) -> Classification:
    return Classification(
        post_id=pid, is_incident=category != "none", category=category, confidence=0.9,
        keywords=(), casualties=Casualties(), location=location, grade=grade,
        grade_basis=f"test {grade.value}" if grade else None, responsible=responsible,
    )  # fmt: skip


def open_with(
    p: Post, c: Classification, params: IncidentParams = PARAMS, key: str | None = None
) -> Outcome:
    decision = assign([], p, c, params, HOME)
    assert decision.action == "open"
    return open_incident(p, c, params, decision)


def join(
    state: IncidentState, p: Post, c: Classification, params: IncidentParams = PARAMS
) -> Outcome:
    decision = Decision(action="join", key=state.key, incident_id=state.id, reason="test")
    return add_post(state, p, c, params, decision=decision)


def kinds(events: Iterable[Event]) -> list[str]:
    return [e.kind.value for e in events]


def ids(events: Iterable[Event]) -> list[str]:
    return [e.id for e in events]


def action(
    kind: str, aid: str, hours: float = 0, minutes: float = 0, incident: str = "", **kw: object
) -> Action:
    if kind in ("close", "merge", "split"):
        kw.setdefault("reason", "值班室核实")  # duty staff's kinds need a reason
    return Action(
        id=aid, incident_id=incident, kind=kind, by="市应急管理局 张三", at=at(hours, minutes), **kw
    )  # type: ignore[arg-type]
