"""Detection failures from issue 9, with texts written for these tests: events with stated
casualties are incidents of the right category and grade; substrings, metaphors and agency
names are not incidents; the category follows the event, not the setting. Then rules that hold
for every input (hypothesis): the fast path only reports terms that are in the text, not_terms
add nothing, and not-incident context never makes an incident."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.domain.detect import Detector
from monitor.domain.model import Casualties, Grade
from monitor.nlp.scanners import AhoScanner
from monitor.service import Classifier

EVENTS = [
    # (text, category, grade, lead body)
    ("资阳市雁江区一栋在建居民楼发生坍塌，已造成4人死亡、12人受伤", "work_safety", Grade.III,
     "雁江区人民政府"),
    ("安岳县一烟花作坊昨晚突然爆炸，事故造成11人死亡", "work_safety", Grade.II, "市应急管理局"),
    ("乐至县境内一座老桥垮塌，3辆车坠河，目前已有5人遇难", "work_safety", Grade.III,
     "乐至县人民政府"),
    ("一架小型飞机在资阳临空经济区附近坠毁，机上3人全部遇难", "aviation", Grade.III,
     "资阳临空经济区管委会"),
    ("雁江区狮子山街道一辆私家车在路边自燃，车主受轻伤", "fire", Grade.IV, "雁江区人民政府"),
    ("安岳县一名3岁男童在菜市场被拐，家人已报警求助", "public_security", Grade.IV,
     "安岳县人民政府"),
    ("乐至县一烧烤店外，四名男子围殴一名食客致其重伤", "public_security", Grade.IV,
     "乐至县人民政府"),
    ("雁江区某小区一名女子从12楼坠楼身亡", "public_security", Grade.IV, "雁江区人民政府"),
    ("安岳县一座小型水库发生溃坝，下游村庄2人失踪", "water_works", Grade.IV, "安岳县人民政府"),
    ("乐至县一辆旅游大巴与货车相撞，车上游客3人死亡、20余人受伤", "traffic_accident",
     Grade.III, "乐至县人民政府"),
    ("资阳高新区一化工厂发生有毒气体泄漏，2名工人中毒身亡", "work_safety", Grade.IV,
     "资阳高新区管委会"),
]  # fmt: skip

NOT_EVENTS = [
    "这几天釜山火炉一样的天气，出门就是一身汗",
    "他的说法遭到别人质疑，评论区吵成一片",
    "有人感叹道德滑坡，年轻人不再让座",
    "公司高层人事大地震，三位副总同时离职",
    "市食品药品监督局召开年度工作会议",
    "马刺伤兵满营，主帅仍然不慌",
    "粉丝与偶像亲密接触，现场气氛热烈",
    pytest.param(
        "纪念唐山大地震40周年，24万遇难同胞永远铭记",
        # Known error of the learned model: the labels call commentary on a past disaster an
        # incident (borderline), so 地震/遇难 learn more than 周年/纪念 weigh against them, and
        # raising the historical context's weight is undone by the next `monitor learn`.
        marks=pytest.mark.xfail(strict=True, reason="learned topic weights outweigh history"),
    ),
    "著名歌手因病去世，享年68岁",
    "全市中小学开展消防演练，学生有序疏散",
]


@pytest.mark.parametrize(("text", "category", "grade", "lead"), EVENTS)
def test_events_with_stated_casualties(
    classifier: Classifier, text: str, category: str, grade: Grade, lead: str
) -> None:
    c = classifier.classify_text("t", text)
    assert (c.is_incident, c.category) == (True, category), c.keywords
    assert c.grade == grade, c.grade_basis
    assert c.responsible.lead == lead


@pytest.mark.parametrize("text", NOT_EVENTS)
def test_substrings_metaphors_and_agency_names_are_not_incidents(
    classifier: Classifier, text: str
) -> None:
    c = classifier.classify_text("t", text)
    assert (c.is_incident, c.category) == (False, "none"), c.keywords


@pytest.mark.parametrize(
    ("text", "straddled"),
    [("釜山火炉", "山火"), ("别人质疑", "人质"), ("马刺伤兵", "刺伤"), ("姚明大火锅", "大火")],
)
def test_fast_path_does_not_fire_on_a_term_straddling_two_words(
    classifier: Classifier, text: str, straddled: str
) -> None:
    assert straddled not in [t for t, _ in classifier.scanner.hits(text)]


def test_a_term_at_real_word_boundaries_still_fires(classifier: Classifier) -> None:
    # the terms are given here: the learned model's vocabulary need not hold them all
    cases = [("山火蔓延", "山火"), ("人质获救", "人质"), ("学生中毒", "中毒")]
    vocabulary = classifier.model.vocabulary | {term for _, term in cases}
    scanner = AhoScanner.with_boundaries(vocabulary, classifier.lexicon.not_terms)
    for text, term in cases:
        assert term in [t for t, _ in scanner.hits(text)], text


def test_casualties_alone_do_not_make_history_an_incident(classifier: Classifier) -> None:
    detection, c = classifier.explain("回顾历史上的今天：某地矿井透水，造成30人死亡")
    assert not c.is_incident
    assert not detection.casualty_evidence and detection.context


def test_route_explains_triggers_and_casualty_evidence(classifier: Classifier) -> None:
    detection, c = classifier.explain("安岳县一烟花作坊昨晚突然爆炸，事故造成11人死亡")
    assert ("爆炸", "work_safety") in [(t, k) for t, k, _ in detection.triggers]
    assert detection.casualty_evidence and c.casualties.deaths == 11
    assert max(detection.scores, key=lambda kv: kv[1])[0] == "work_safety"


# --- rules for every input -------------------------------------------------------------------


@pytest.fixture(scope="module")
def words(classifier: Classifier) -> list[str]:
    return sorted(classifier.model.vocabulary | classifier.lexicon.vocabulary)


def _texts(words: list[str]) -> st.SearchStrategy[str]:
    pieces = st.one_of(
        st.sampled_from(words),
        st.sampled_from(sorted(set("".join(words)))),  # characters of terms, recombined
        st.sampled_from(["，", "。", "的", "人", "在"]),
    )
    return st.lists(pieces, max_size=12).map("".join)


SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip


@given(data=st.data())
@SETTINGS
def test_fast_path_reports_only_terms_present_where_it_says(
    classifier: Classifier, words: list[str], data: st.DataObject
) -> None:
    text = data.draw(_texts(words))
    end = 0
    for term, start in classifier.scanner.hits(text):
        assert text[start : start + len(term)] == term
        assert start >= end  # hits never overlap
        end = start + len(term)


@given(data=st.data())
@SETTINGS
def test_a_not_term_between_stops_adds_no_hit(
    classifier: Classifier, words: list[str], data: st.DataObject
) -> None:
    left, right = data.draw(_texts(words)), data.draw(_texts(words))
    blocked = data.draw(st.sampled_from(sorted(classifier.lexicon.not_terms)))
    scanner = classifier.scanner
    assert isinstance(scanner, AhoScanner)

    def terms(text: str) -> list[str]:
        return [t for t, _ in scanner.hits(text)]

    together = terms(f"{left}。{blocked}。{right}")
    assert together == terms(f"{left}。") + terms(f"。{right}")


@given(data=st.data())
@SETTINGS
def test_not_incident_context_never_makes_an_incident(
    classifier: Classifier, words: list[str], data: st.DataObject
) -> None:
    detector: Detector = classifier.detector
    seen = data.draw(st.lists(st.sampled_from(words), max_size=6))
    context = data.draw(st.lists(st.sampled_from(sorted(classifier.lexicon.context)), min_size=1))
    deaths = data.draw(st.none() | st.integers(0, 50))
    facts = Casualties(deaths=deaths)
    before = detector.detect(seen, facts).result
    after = detector.detect(seen + context, facts).result
    if not before.is_incident:
        assert not after.is_incident
    if after.is_incident:
        assert after.category == before.category
