from __future__ import annotations

import pytest

from monitor.service import Classifier

# text, county, town, town_code, in_jurisdiction
CASES = [
    ("资阳市安岳县石桥街道一厂房起火", "安岳县", "石桥街道", "512021002", True),
    ("安岳县石桥铺镇发生火灾", "安岳县", "石桥街道", "512021002", True),  # legacy → today's town
    ("乐至县天池镇一民房起火", "乐至县", "天池街道", "512022001", True),  # legacy, stem match
    ("忠义镇一民房起火", "安岳县", "忠义镇", "512021124", True),  # today's list wins
    ("雁江区忠义镇一民房起火", "雁江区", "忠义镇", None, True),  # context: the old 雁江 town
    ("雁江区回龙乡发生山体滑坡", "雁江区", "回龙乡", None, True),  # legacy, no code today
    ("资阳高新区一工地坍塌", "资阳高新区", None, None, True),
    ("重庆市大足区发生交通事故", "大足区", None, None, False),
    ("益阳市资阳区一民房起火", "资阳区", None, None, False),  # Hunan's 资阳区 is not 资阳市
    ("北京市密云县一辆客车侧翻", "密云区", None, None, False),  # renamed county, today's name
    ("成都市双流区一化工厂爆炸", "双流区", None, None, False),
]


@pytest.mark.parametrize(("text", "county", "town", "town_code", "inside"), CASES)
def test_location(
    classifier: Classifier, text: str, county: str, town: str | None, town_code: str | None,
    inside: bool,
) -> None:  # fmt: skip
    loc = classifier.classify_text("t", text).location
    assert (loc.county, loc.town, loc.town_code, loc.in_jurisdiction) == (
        county, town, town_code, inside,
    )  # fmt: skip


def test_codes_and_parents_inside(classifier: Classifier) -> None:
    loc = classifier.classify_text("t", "安岳县石桥街道发生火灾").location
    assert (loc.province, loc.province_code, loc.city, loc.city_code) == (
        "四川省", "51", "资阳市", "5120",
    )  # fmt: skip
    assert loc.county_code == "512021"
    assert loc.places == ("安岳县", "石桥街道")


def test_codes_and_parents_outside(classifier: Classifier) -> None:
    loc = classifier.classify_text("t", "重庆市大足区发生交通事故").location
    assert (loc.province, loc.city, loc.county_code) == ("重庆市", "重庆市", "500111")


def test_several_counties_is_the_city(classifier: Classifier) -> None:
    loc = classifier.classify_text("t", "雁江区和安岳县多地暴雨引发山洪").location
    assert loc.in_jurisdiction is True
    assert (loc.city, loc.county, loc.town) == ("资阳市", None, None)


def test_only_the_home_province_is_unknown(classifier: Classifier) -> None:
    loc = classifier.classify_text("t", "四川某地发生地震").location
    assert loc.in_jurisdiction is None and loc.province == "四川省"


def test_no_place_is_all_null(classifier: Classifier) -> None:
    loc = classifier.classify_text("t", "某地发生火灾").location
    assert loc.in_jurisdiction is None and loc.places == () and loc.county is None


def test_most_specific_place_wins(classifier: Classifier) -> None:
    loc = classifier.classify_text("t", "资阳市民在成都市双流区遭遇车祸").location
    assert loc.county == "双流区" and loc.in_jurisdiction is False
