from __future__ import annotations

import pytest

from monitor.domain.model import Grade, Location
from monitor.domain.routing import Department, RoutingTable, responsible

TABLE = RoutingTable(
    departments={
        "fire": Department("市消防救援支队", ("市应急管理局",)),
        "environment": Department("市生态环境局"),
    },
    county_bodies={"安岳县": "安岳县人民政府", "资阳高新区": "资阳高新区管委会"},
)
ANYUE = Location(in_jurisdiction=True, city="资阳市", county="安岳县", county_code="512021")
CITY = Location(in_jurisdiction=True, city="资阳市")
OUTSIDE = Location(in_jurisdiction=False, county="大足区")


@pytest.mark.parametrize(
    ("category", "grade", "loc", "level", "lead", "co"),
    [
        ("environment", Grade.I, ANYUE, "city", "市生态环境局", ("安岳县人民政府",)),
        ("environment", Grade.II, ANYUE, "city", "市生态环境局", ("安岳县人民政府",)),
        ("environment", Grade.III, ANYUE, "county", "安岳县人民政府", ("市生态环境局",)),
        ("environment", Grade.IV, ANYUE, "county", "安岳县人民政府", ("市生态环境局",)),
        ("fire", Grade.II, ANYUE, "city", "市消防救援支队", ("市应急管理局", "安岳县人民政府")),
        ("fire", Grade.IV, ANYUE, "county", "安岳县人民政府", ("市消防救援支队", "市应急管理局")),
        ("environment", Grade.IV, CITY, "city", "市生态环境局", ()),  # no county
        ("environment", Grade.IV, OUTSIDE, None, None, ()),  # outside: not assigned
        ("environment", Grade.IV, Location(), None, None, ()),  # unknown place: not assigned
        ("none", Grade.IV, ANYUE, None, None, ()),
    ],
)
def test_responsible(
    category: str, grade: Grade, loc: Location, level: str | None, lead: str | None,
    co: tuple[str, ...],
) -> None:  # fmt: skip
    r = responsible(category, grade, loc, TABLE)
    assert (r.level, r.lead, r.co) == (level, lead, co)
    assert r.bodies == ((lead,) if lead else ()) + co


def test_zone_body(classifier) -> None:  # type: ignore[no-untyped-def]
    c = classifier.classify_text("t", "资阳高新区一工地脚手架坍塌")
    assert c.category == "work_safety"
    assert c.responsible.lead == "资阳高新区管委会"
    assert c.responsible.co == ("市应急管理局",)
