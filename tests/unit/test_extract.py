"""Casualty and loss extraction: every supported form, the negation rules, floors, vague
counts, loss units and the traps that must not read as casualties."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cn2an
import pytest

from monitor.domain.extract import LEXICON, extract_casualties
from monitor.domain.model import Casualties
from monitor.domain.numerals import (
    NumeralError,
    amounts_in,
    chinese_to_int,
    read_chinese,
    to_decimal,
    to_int,
)

# text → the fields expected to be set; every other count field must be None.
COUNTS: list[tuple[str, dict[str, int]]] = [
    # number before the word
    ("事故共造成6人死亡", {"deaths": 6}),
    ("6人不幸遇难", {"deaths": 6}),
    ("3人当场死亡", {"deaths": 3}),
    ("1人经抢救无效死亡", {"deaths": 1}),
    ("致2名工人罹难", {"deaths": 2}),
    ("两人丧生", {"deaths": 2}),
    ("一名男子殒命", {"deaths": 1}),
    ("3名矿工丧命", {"deaths": 3}),
    ("发现两具遗体", {"deaths": 2}),
    ("4名死者身份已确认", {"deaths": 4}),
    ("一名3岁男童当场死亡", {"deaths": 1}),
    ("140名囚犯和2名工作人员死于新冠肺炎", {"deaths": 142}),
    ("尼桑轿车内的三男两女全部死亡", {"deaths": 5}),
    ("一家6口遇难", {"deaths": 6}),
    ("2人被烧死", {"deaths": 2}),
    # word before the number
    ("死亡6人", {"deaths": 6}),
    ("遇难者增至12人", {"deaths": 12}),
    ("死亡人数上升至30人", {"deaths": 30}),
    ("死亡人数为6。", {"deaths": 6}),
    ("撞死2人", {"deaths": 2}),
    ("受伤的3名学生已送医", {"injured": 3, "serious_injured": 3}),
    # compact headline forms
    ("客车相撞6死3伤", {"deaths": 6, "injured": 3, "serious_injured": 3}),
    ("车祸致3死", {"deaths": 3}),
    ("致一死两伤", {"deaths": 1, "injured": 2, "serious_injured": 2}),
    ("包固公路发生五死特大交通事故", {"deaths": 5}),
    ("姐弟两人1死1重伤", {"deaths": 1, "injured": 1, "serious_injured": 1}),
    ("客车农用车相撞致6人亡", {"deaths": 6}),
    ("32人亡50人送医治疗", {"deaths": 32, "injured": 50, "serious_injured": 50}),
    # numerals
    ("６人死亡", {"deaths": 6}),
    ("１２人受伤", {"injured": 12, "serious_injured": 12}),
    ("三人遇难", {"deaths": 3}),
    ("十二名工人被困", {"trapped": 12}),
    ("二十三人遇难，一百零五人受伤", {"deaths": 23, "injured": 105, "serious_injured": 105}),
    ("造成9200人死亡", {"deaths": 9200}),
    ("造成一万人死亡", {"deaths": 10000}),
    ("2.5万人直接致死", {"deaths": 25000}),
    ("3个孩子受伤", {"injured": 3, "serious_injured": 3}),
    # missing and trapped
    ("3人失踪", {"missing": 3}),
    ("2名船员失联", {"missing": 2}),
    ("仍有4人下落不明", {"missing": 4}),
    ("5人被困", {"trapped": 5}),
    ("2人被埋", {"trapped": 2}),
    ("7名矿工受困井下", {"trapped": 7}),
    ("被困人员共11名", {"trapped": 11}),
    # several fields in one text, in both orders
    ("3人死亡5人受伤", {"deaths": 3, "injured": 5, "serious_injured": 5}),
    ("死亡3人，受伤5人", {"deaths": 3, "injured": 5, "serious_injured": 5}),
    ("死亡3人受伤5人", {"deaths": 3, "injured": 5, "serious_injured": 5}),
    (
        "造成3人死亡、5人受伤、2人失踪",
        {"deaths": 3, "injured": 5, "serious_injured": 5, "missing": 2},
    ),
    ("受伤司机和2名乘客死亡", {"deaths": 2}),
    # a chain of words: the outcome is the gravest
    ("2人送医后不治身亡", {"deaths": 2}),
    ("1人受伤后经抢救无效死亡", {"deaths": 1}),
    # injuries: all injured vs serious
    ("6人死亡，3人重伤，14人轻微伤", {"deaths": 6, "injured": 17, "serious_injured": 3}),
    ("2人受重伤，3人受轻伤", {"injured": 5, "serious_injured": 2}),
    ("10人受伤，其中3人重伤，7人轻伤", {"injured": 10, "serious_injured": 3}),
    ("10人受伤，其中3人重伤", {"injured": 10, "serious_injured": 10}),
    ("4人受伤", {"injured": 4, "serious_injured": 4}),
    ("2名伤者", {"injured": 2, "serious_injured": 2}),
    ("3人被送往当地医院救治", {"injured": 3, "serious_injured": 3}),
    ("5人送医", {"injured": 5, "serious_injured": 5}),
    ("2人受伤严重", {"injured": 2, "serious_injured": 2}),
    ("1人轻伤", {"injured": 1, "serious_injured": 0}),
    # a rising toll keeps the maximum
    ("造成12人死亡。截至今日，遇难者增至30人", {"deaths": 30}),
    ("死亡人数上升至30人，此前报道造成12人死亡", {"deaths": 30}),
    # negations: zero unless a number is also given
    ("无人员伤亡", {"deaths": 0, "injured": 0, "serious_injured": 0}),
    ("所幸没有造成人员伤亡", {"deaths": 0, "injured": 0, "serious_injured": 0}),
    ("火灾未造成人员伤亡", {"deaths": 0, "injured": 0, "serious_injured": 0}),
    ("暂无人员伤亡报告", {"deaths": 0, "injured": 0, "serious_injured": 0}),
    ("所幸无人伤亡", {"deaths": 0, "injured": 0, "serious_injured": 0}),
    ("所幸未造成树木燃烧和人员伤亡", {"deaths": 0, "injured": 0, "serious_injured": 0}),
    ("尚未出现人员死亡的情况", {"deaths": 0}),
    ("目前暂未发现人员被困", {"trapped": 0}),
    ("无人员伤亡。另据报道，2人受伤", {"deaths": 0, "injured": 2, "serious_injured": 2}),
    ("3人受伤，无人员死亡", {"deaths": 0, "injured": 3, "serious_injured": 3}),
]


@pytest.mark.parametrize(("text", "want"), COUNTS, ids=[t for t, _ in COUNTS])
def test_counts(text: str, want: dict[str, int]) -> None:
    got = extract_casualties(text)
    fields = ("deaths", "missing", "injured", "serious_injured", "trapped", "loss_yuan")
    assert {f: getattr(got, f) for f in fields if getattr(got, f) is not None} == want
    assert got.lower_bounds == ()


FLOORS: list[tuple[str, dict[str, int], tuple[str, ...]]] = [
    ("十余人受伤", {"injured": 10}, ("injured", "serious_injured")),
    ("20多人死亡", {"deaths": 20}, ("deaths",)),
    ("至少6人死亡", {"deaths": 6}, ("deaths",)),
    ("至少有6人死亡", {"deaths": 6}, ("deaths",)),
    ("超过100人受伤", {"injured": 100}, ("injured", "serious_injured")),
    ("10人以上被困", {"trapped": 10}, ("trapped",)),
    ("造成20余万人死亡", {"deaths": 200_000}, ("deaths",)),
    ("九千二百余人遇难", {"deaths": 9200}, ("deaths",)),
    ("上百人受伤", {"injured": 100}, ("injured", "serious_injured")),
    ("两三人受伤", {"injured": 2}, ("injured", "serious_injured")),
    ("十几人死亡", {"deaths": 10}, ("deaths",)),
    # an exact figure as large as the floor settles it
    ("十余人死亡。最新消息，死亡人数为10人", {"deaths": 10}, ()),
    ("起初称6人死亡，后确认至少9人死亡", {"deaths": 9}, ("deaths",)),
]


@pytest.mark.parametrize(("text", "want", "floors"), FLOORS, ids=[t for t, _, _ in FLOORS])
def test_lower_bounds(text: str, want: dict[str, int], floors: tuple[str, ...]) -> None:
    got = extract_casualties(text)
    for field, value in want.items():
        assert getattr(got, field) == value
    assert got.lower_bounds == floors
    assert got.uncertain == ()


UNCERTAIN: list[tuple[str, tuple[str, ...]]] = [
    ("数十人死亡", ("deaths",)),
    ("多人受伤", ("injured", "serious_injured")),
    ("数名工人被困", ("trapped",)),
    ("若干人失踪", ("missing",)),
    ("近百人受伤", ("injured", "serious_injured")),
    ("事故造成人员伤亡", ("deaths", "injured")),
    ("12人伤亡", ("deaths", "injured")),
    ("未造成重大人员伤亡", ("deaths", "injured")),  # says nothing about lesser ones
    ("有无人员伤亡尚不清楚", ("deaths", "injured")),  # a question, not a denial
    ("司机当场死亡", ("deaths",)),
    ("2人死亡，多人受伤", ("injured", "serious_injured")),
    ("经济损失正在统计", ("loss_yuan",)),
    ("直接经济损失数百万元", ("loss_yuan",)),
]


@pytest.mark.parametrize(("text", "fields"), UNCERTAIN, ids=[t for t, _ in UNCERTAIN])
def test_uncertain_flags(text: str, fields: tuple[str, ...]) -> None:
    got = extract_casualties(text)
    assert got.uncertain == fields
    for field in fields:
        assert getattr(got, field) is None


def test_uncertain_is_dropped_once_a_number_is_known() -> None:
    got = extract_casualties("多人死亡。据最新通报，事故造成5人死亡")
    assert got.deaths == 5
    assert got.uncertain == ()


LOSSES: list[tuple[str, int | None, tuple[str, ...]]] = [
    ("直接经济损失约3000万元", 30_000_000, ()),
    ("造成直接经济损失1.2亿元", 120_000_000, ()),
    ("造成约1.2亿元的直接经济损失", 120_000_000, ()),
    ("直接经济损失１．５亿元", 150_000_000, ()),
    ("经济损失达1亿2000万元", 120_000_000, ()),
    ("直接经济损失三千万元", 30_000_000, ()),
    ("财产损失8500元", 8_500, ()),
    ("损失3000余万元", 30_000_000, ("loss_yuan",)),
    ("直接经济损失超过5000万元", 50_000_000, ("loss_yuan",)),
    ("直接经济损失5000万元，间接经济损失2亿元", 50_000_000, ()),
    ("间接经济损失500万元", None, ()),
    ("为群众挽回损失", None, ()),  # a plain 损失 with no amount says nothing
    ("罚款5000元", None, ()),  # money that is not a loss
]


@pytest.mark.parametrize(("text", "loss", "floors"), LOSSES, ids=[t for t, _, _ in LOSSES])
def test_loss(text: str, loss: int | None, floors: tuple[str, ...]) -> None:
    got = extract_casualties(text)
    assert got.loss_yuan == loss
    assert got.lower_bounds == floors
    assert got.uncertain == ()


TRAPS = [
    "今年交通事故死亡率下降",
    "警方抓获3名嫌疑人",
    "6日3时许，消防接到报警",
    "一辆载有20多名乘客的大巴车在高速上抛锚",
    "现场3辆车受损严重",
    "第一名伤者的身份尚未公布",  # a rank, not a count; 伤者 alone stays uncertain
    "九死一生的经历",
    "3个小时后死亡",
    "1999年6月",
    "他们被困扰多年",
    "这是一种不治之症",
    "2008年发生的事件",
    "牺牲休息时间加班",
    "会议强调要把损失降到最低",
    "这条新闻让人伤心",
    "近日，3名游客受到惊吓",
    "打死都只爱我一个，对于别人",  # 个 after the word is too loose a measure
    "万源城管打死卖蘑菇学生 千人聚集",  # a space ends the clause in a post
    "伤员救治的医护人员达1916名",  # 的 starts a new subject
]


@pytest.mark.parametrize("text", TRAPS)
def test_traps_are_not_casualties(text: str) -> None:
    got = extract_casualties(text)
    for field in ("deaths", "missing", "injured", "serious_injured", "trapped", "loss_yuan"):
        assert getattr(got, field) is None, field


def test_a_bare_death_word_flags_rather_than_counts() -> None:
    assert extract_casualties("3个小时后死亡").uncertain == ("deaths",)
    assert extract_casualties("第一名伤者的身份尚未公布").injured is None


def test_plain_injury_as_serious_can_be_switched_off() -> None:
    text = "造成2人死亡、5人受伤，其中1人重伤"
    assert extract_casualties(text).serious_injured == 5
    off = extract_casualties(text, plain_injury_is_serious=False)
    assert (off.injured, off.serious_injured) == (5, 1)
    assert extract_casualties("5人受伤", plain_injury_is_serious=False).serious_injured is None
    assert extract_casualties("5人受伤", plain_injury_is_serious=False).injured == 5


def test_text_without_any_trigger_is_empty() -> None:
    assert extract_casualties("资阳市召开全市经济工作会议，部署明年重点任务。") == Casualties()
    assert extract_casualties("") == Casualties()


def test_every_lexicon_word_is_recognised_somewhere() -> None:
    # Guards the literal alternation: a word added to LEXICON must be found by it.
    from monitor.domain.extract import _WORDS_RX

    for word in LEXICON:
        m = _WORDS_RX.search(word)
        assert m is not None and m.group() == word, word


def test_long_text_keeps_the_max_across_mentions() -> None:
    filler = "据了解，相关部门正在组织处置。" * 40
    text = f"造成3人死亡。{filler}截至发稿，死亡人数已升至7人，另有2人失联。{filler}"
    got = extract_casualties(text)
    assert (got.deaths, got.missing) == (7, 2)


@pytest.mark.parametrize(
    "text",
    [
        "一" * 20_000 + "人死亡",
        "1" * 20_000 + "人死亡",
        "死亡" + "1" * 5_000 + "。",
        "直接经济损失" + "9" * 40 + "亿元",
        "死亡" * 50_000,
        "3死" * 30_000,
    ],
    ids=["cn-run", "digit-run", "bare-digit-run", "huge-sum", "only-words", "only-compact"],
)
def test_hostile_input_gives_an_answer_not_an_exception(text: str) -> None:
    got = extract_casualties(text)
    assert got.loss_yuan is None
    assert got.deaths is None or got.deaths < 10**6


def test_a_megabyte_of_reports_is_read_whole() -> None:
    unit = "造成3人死亡，5人受伤。" + "据了解，相关部门正在组织处置。" * 5
    text = unit * 11_000 + "截至发稿，死亡人数已升至9人。"
    assert len(text.encode()) > 1_000_000
    got = extract_casualties(text)
    assert (got.deaths, got.injured) == (9, 5)


# --- numerals -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("十", 10),
        ("十二", 12),
        ("二十三", 23),
        ("一百零五", 105),
        ("两", 2),
        ("两千", 2000),
        ("九千二百", 9200),
        ("一万", 10_000),
        ("三千万", 30_000_000),
        ("一亿二千万", 120_000_000),
        ("二〇〇八", 2008),
        ("零", 0),
    ],
)
def test_chinese_numerals(text: str, value: int) -> None:
    assert chinese_to_int(text) == value


def test_chinese_numerals_agree_with_cn2an_from_0_to_9999() -> None:
    # cn2an is the independent oracle; it is too slow for the hot path (~13 µs a call).
    for n in range(10_000):
        assert chinese_to_int(cn2an.an2cn(n)) == n


@pytest.mark.parametrize(("text", "value"), [("两三", 2), ("三四十", 30), ("十三四", 13)])
def test_chinese_ranges_read_as_floors(text: str, value: int) -> None:
    assert read_chinese(text) == (value, True)


@pytest.mark.parametrize("text", ["", "万", "十x", "abc"])
def test_bad_numerals_are_refused_with_the_text(text: str) -> None:
    with pytest.raises(NumeralError):
        to_int(text) if text.isascii() and text else chinese_to_int(text)


AMOUNTS: list[tuple[str, bool, list[tuple[int | None, bool, bool]]]] = [
    # text, money wanted, [(value, floor, money)]
    ("共6人", False, [(6, False, False)]),
    ("至少有１２名", False, [(12, True, False)]),
    ("20余万人", False, [(200_000, True, False)]),
    ("数十人", False, [(None, False, False)]),
    ("上百人", False, [(100, True, False)]),
    ("三男两女", False, [(5, False, False)]),
    ("第一名", False, []),
    ("2008年6日3时一辆", False, []),
    ("约3000万元", True, [(30_000_000, False, True)]),
    ("约3000万元", False, []),  # money only when a loss word asked for it
    ("1亿2000万元", True, [(120_000_000, False, True)]),
    ("数百万元", True, [(None, False, True)]),
]


@pytest.mark.parametrize(("text", "money", "want"), AMOUNTS, ids=[a[0] for a in AMOUNTS])
def test_amounts(text: str, money: bool, want: list[tuple[int | None, bool, bool]]) -> None:
    got = [(a.value, a.floor, a.money) for a in amounts_in(text, 0, len(text), money)]
    assert got == want


def test_arabic_and_full_width_numerals() -> None:
    assert to_int("６") == 6
    assert to_int("１２") == 12
    assert str(to_decimal("１．２")) == "1.2"
    with pytest.raises(NumeralError, match="x1"):
        to_decimal("x1")


# --- real reports -------------------------------------------------------------------------


def test_cec_casualty_agreement_holds(shared_data: Path) -> None:
    """Regression floor on the 314 CEC reports (figures measured at commit time)."""
    from benchmarks.cec_casualties import casualty_agreement

    with open(shared_data / "corpora" / "cec_dev.jsonl", encoding="utf-8") as f:
        rows: list[dict[str, Any]] = [json.loads(line) for line in f if line.strip()]
    assert len(rows) == 314
    scores = casualty_agreement(rows)
    assert scores["deaths.n"] >= 90 and scores["injured.n"] >= 70
    assert scores["deaths.exact"] >= 0.90
    assert scores["injured.exact"] >= 0.93
    assert scores["deaths.precision"] >= 0.92
