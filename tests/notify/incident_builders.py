"""A grade-II fire incident built through the incident domain's own calls."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from monitor.domain.evidence import OfficialAccounts
from monitor.domain.incidents import assign, open_incident
from monitor.domain.model import Casualties, Classification, Grade, Location, Post, Responsible
from monitor.domain.policy import IncidentParams
from monitor.domain.state import Outcome

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=CST)
PARAMS = IncidentParams()
ANYUE = Location(in_jurisdiction=True, city="资阳市", city_code="5120", county="安岳县",
                 county_code="512021")  # fmt: skip
BODIES = Responsible(level="city", lead="市消防救援支队", co=("安岳县人民政府",))
FIRE = "安岳县岳阳镇一家具厂突发火灾，现场浓烟滚滚，消防正在全力扑救，已造成多人被困"
OFFICIAL = ("关于安岳县岳阳镇家具厂火灾的情况通报：今日10时许，岳阳镇一家具厂突发火灾，"
            "消防救援人员全力扑救，被困人员已全部救出，火势已得到控制，原因正在调查。")  # fmt: skip
UNRELATED = "市教育和体育局关于2026年秋季学期中小学校招生工作的通知，请各学校做好报名准备。"


def at(hours: float = 0, minutes: float = 0) -> datetime:
    return T0 + timedelta(hours=hours, minutes=minutes)


def fire_incident(grade: Grade = Grade.II) -> Outcome:
    p = Post(id="p1", text=FIRE, published_at=T0, observed_at=T0, url="https://weibo.example/p1")
    c = Classification(
        post_id="p1", is_incident=True, category="fire", confidence=0.9, keywords=(),
        casualties=Casualties(), location=ANYUE, grade=grade, grade_basis="test",
        responsible=BODIES,
    )  # fmt: skip
    decision = assign([], p, c, PARAMS, "5120")
    return open_incident(p, c, PARAMS, decision)


# The city config's official_accounts: a feed each (the sources named 资阳消防 and 资阳教体).
ACCOUNTS = OfficialAccounts(feeds={"资阳消防": "市消防救援支队", "资阳教体": "市教育和体育局"})


def official_post(
    pid: str = "gov1", text: str = OFFICIAL, hours: float = 4.5, **kw: object
) -> Post:
    base: dict[str, object] = dict(
        id=pid, text=text, published_at=at(hours), observed_at=at(hours),
        url=f"https://www.ziyang.gov.cn/xxgk/{pid}.html", author="资阳消防", source="资阳消防",
    )  # fmt: skip
    base.update(kw)
    return Post(**base)  # type: ignore[arg-type]
