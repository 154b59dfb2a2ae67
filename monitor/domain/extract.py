"""Casualties and direct economic loss read from report text. Pure: text in, facts out.

How it reads: one alternation of plain literals finds the casualty and loss words; numbers
(a counted group of people, an amount of money) are then read only near those words, and a
negation (无人员伤亡) or compact form (6死3伤) becomes a fact on the spot. Each count is
paired with the casualty word right after it (造成6人死亡, 6人不幸遇难) or, failing that, a
word right before it (死亡6人, 遇难者增至12人), never across a clause break. A field
reported several times (a rising toll) keeps its maximum.

Texts with no casualty or loss word at all are turned away by a cheap gate first: that is most
posts, and it keeps extraction to a microsecond or two for them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from monitor.domain.model import Casualties
from monitor.domain.numerals import (
    NUM_PATTERN,
    NUMERAL_CHARS,
    NUMERAL_TAIL,
    Amount,
    amounts_in,
    read_number,
)

# Field names as they appear in Casualties (and in lower_bounds / uncertain).
DEATHS, MISSING, INJURED, SERIOUS, TRAPPED, LOSS = (
    "deaths", "missing", "injured", "serious_injured", "trapped", "loss_yuan",
)  # fmt: skip
FIELD_ORDER = (DEATHS, MISSING, INJURED, SERIOUS, TRAPPED, LOSS)

# Kinds of casualty word. Injuries are kept apart by qualification so that 10人受伤，其中3人重伤
# is read as 10 injured, not 13.
K_DEATH, K_MISSING, K_TRAPPED = "death", "missing", "trapped"
K_HURT, K_SERIOUS, K_LIGHT, K_SLIGHT = "hurt", "serious", "light", "slight"
K_CASUALTY, K_LOSS = "casualty", "loss"  # 伤亡 (deaths and injuries not told apart); 损失
K_LOSS_PLAIN = "loss_plain"  # a bare 损失, not 经济损失
K_COMPACT = "compact"  # a lone 死 or 伤, as in 6死3伤

# The casualty and loss vocabulary. Plain literals, so one alternation finds them all in
# ~2 µs; what regex lookarounds would say (死亡率 is not a death) is checked in _read_word().
_X_DEATH = "烧砸撞淹压炸溺闷毒打刺砍捅杀射勒掐冻饿电"  # 烧死, 砸死, ...
_X_HURT = "烧撞砸击摔刺砍炸灼划咬踩压割擦挫扭碰打殴扎烫冻刮夹"  # 烧伤, 撞伤, ...


def _each(words: str, kind: str) -> dict[str, str]:
    return dict.fromkeys(words.split(), kind)


LEXICON: dict[str, str] = {
    **_each("死亡 身亡 遇难 罹难 丧生 殒命 丧命 遇害 毙命 身故 溺亡 去世 牺牲 遗体 尸体 死者 "
            "不治 抢救无效 死于 致死 " + " ".join(x + "死" for x in _X_DEATH), K_DEATH),
    **_each("失踪 失联 下落不明 去向不明", K_MISSING),
    **_each("被困 受困 被埋 被掩埋 被压埋 困于 被围困", K_TRAPPED),
    **_each("受重伤 重伤 受伤严重 伤势严重 伤势较重 伤势过重 重度烧伤 危重", K_SERIOUS),
    **_each("轻微伤", K_SLIGHT),
    **_each("受轻伤 轻伤", K_LIGHT),
    **_each("受伤 受了伤 负伤 伤者 伤员 送医 送院 送往 送至 送到 "
            + " ".join(x + "伤" for x in _X_HURT), K_HURT),
    **_each("伤亡 死伤", K_CASUALTY),
    **_each("损失", K_LOSS),
    **_each("死 伤 亡", K_COMPACT),
}  # fmt: skip
_NOT_HURT = "害心亡残痕口者员势"
# The next character that makes a word something else: 死亡率, 被困扰, 不治之症, 受伤害, 伤心.
_NOT_BEFORE = {
    "死亡": "率", "致死": "率", "不治": "之", "被困": "扰", "被埋": "没怨伏单", "重伤": "害",
    "轻伤": "害", "受伤": "害", "损失": "率", **dict.fromkeys(
        [x + "伤" for x in _X_HURT], _NOT_HURT),
}  # fmt: skip
# Words that count when a number goes with them but alone do not say anyone was hurt:
# 牺牲休息时间, 送往学校, 挽回损失.
_WEAK = frozenset({"牺牲", "去世", "送医", "送院", "送往", "送至", "送到", "损失"})
_SENT_TO_HOSPITAL = re.compile("[^，。；！？,;!?\\s]{0,6}?医院")


def _trie_pattern(words: list[str]) -> str:
    """An alternation nested by shared prefix (受(?:伤|重伤|轻伤)): Python's re tries the
    branches of a flat alternation one by one at every candidate position."""
    heads: dict[str, list[str]] = {}
    for w in words:
        heads.setdefault(w[0], []).append(w[1:])
    branches = []
    for head, tails in sorted(heads.items(), key=lambda kv: -max(map(len, kv[1]))):
        rest = [t for t in tails if t]
        sub = _trie_pattern(sorted(rest, key=len, reverse=True)) if rest else ""
        if sub and len(rest) < len(tails):
            sub = f"(?:{sub})?"
        elif sub:
            sub = f"(?:{sub})"
        branches.append(re.escape(head) + sub)
    return "|".join(branches)


_WORDS_RX = re.compile(_trie_pattern(list(LEXICON)))
_GATE = re.compile("[" + "".join(sorted({w[0] for w in LEXICON})) + "]")

# A negation names what did not happen: 无人员伤亡, 未造成人员伤亡, 没有人员死亡. Not 有无人员伤亡
# (a question) and not 未造成重大人员伤亡 (says nothing about minor ones).
_NEGATION = re.compile(  # also 未造成树木燃烧和人员伤亡
    "(?<!有)(?:无|没有|未|未有|没)(?:造成|发现|出现|导致|引起|致|见|有)?"
    "(?:[^，。；！？,;!?]{1,8}?[和及或、])?(?:任何)?(?:人员|人)?$"
)
NEGATION_REACH = 18  # characters before a word searched for its negation
_NEGATORS = frozenset("无没未")
_NEGATED_KINDS = {
    "伤亡": (K_DEATH, K_HURT), "死亡": (K_DEATH,), "受伤": (K_HURT,),
    "失踪": (K_MISSING,), "被困": (K_TRAPPED,),
}  # fmt: skip

# Compact headline forms around a lone 死 or 伤: 6死3伤, 致3死, 致一死一伤, 车祸3死.
_COMPACT = re.compile(
    rf"(?P<cd>{NUM_PATTERN})死(?P<ci>{NUM_PATTERN})(?P<cq>重|轻)?伤(?![亡者员害心])"
    rf"|(?P<cd2>{NUM_PATTERN})死(?=[，。、；;,!！?？\s]|$)"
    rf"|(?<=[致成酿已共生])(?P<cd3>{NUM_PATTERN})死(?![亡者去])"
    rf"|(?<=[致成])(?P<ci2>{NUM_PATTERN})伤(?![亡者员害心])"
)
WINDOW = 20  # characters searched for numbers on each side of a word
WIDEN_MAX = 12  # how far a window grows so as not to cut a number in two
_BREAK = re.compile("[，。；！？,;!?\n【】]")
# A space ends a clause in posts (万源城管打死卖蘑菇学生 千人聚集) but scraped news also has
# stray ones inside a clause (两名女孩 经抢救 无效死亡): only a link backwards stops at one.
_SPACE = re.compile("[ 　]")
# Two groups joined into one subject: 140名囚犯和2名工作人员死于…
_JOINED = re.compile("[^，。；！？,;!?0-9０-９]{0,6}?(?:和|及|与|以及)$")
# A subject that is a vehicle, not people: 载有20多名乘客的大巴车被困.
_VEHICLE_END = re.compile("(?:车|船|飞机|客机|大巴|航班)[上内中里]?$")
_TIME_AFTER_GE = re.compile("^(?:小时|月|星期|钟头|礼拜|年头)")
MAX_GAP = 8  # characters allowed between a count and its word (3人经抢救无效死亡)

_KIND_FIELDS = {
    K_DEATH: (DEATHS,), K_MISSING: (MISSING,), K_TRAPPED: (TRAPPED,), K_LOSS: (LOSS,),
    K_HURT: (INJURED,), K_SERIOUS: (INJURED, SERIOUS), K_LIGHT: (INJURED,), K_SLIGHT: (INJURED,),
    K_CASUALTY: (DEATHS, INJURED), K_LOSS_PLAIN: (),
}  # fmt: skip
NOTHING = Casualties()


# Tokens are NamedTuples: a frozen dataclass costs ~1 µs to build, a tuple a tenth of that.
class _Fact(NamedTuple):
    """A mention that needs no pairing (6死3伤, 无人员伤亡). It also ends any pairing."""

    start: int
    end: int
    kind: str
    value: int
    floor: bool


class _Word(NamedTuple):
    start: int
    end: int
    kind: str
    weak: bool = False  # alone it does not say anything happened (牺牲, 送往, 损失)


@dataclass(slots=True)
class _Tally:
    """Mentions per word kind: (value, is_floor). Words seen without a number are `bare`."""

    top: dict[str, tuple[int, bool]] = field(default_factory=dict)
    bare: set[str] = field(default_factory=set)

    def add(self, kind: str, value: int, floor: bool) -> None:
        """Keep the largest value; it is a floor only if no exact mention reaches it."""
        held = self.top.get(kind)
        if held is None or value > held[0]:
            self.top[kind] = (value, floor)
        elif value == held[0] and held[1] and not floor:
            self.top[kind] = (value, False)

    def best(self, kind: str) -> tuple[int, bool] | None:
        return self.top.get(kind)


def extract_casualties(text: str, plain_injury_is_serious: bool = True) -> Casualties:
    """Deaths, missing, injured, serious injuries, trapped and direct loss (元) in `text`.

    None means not mentioned. `plain_injury_is_serious` counts unqualified 受伤 as serious
    injury (the grading default: a missed 5-hour deadline costs more than an early release).
    """
    if not _GATE.search(text):
        return NOTHING
    tokens = _tokens(text)
    if not tokens:
        return NOTHING
    tally = _Tally()
    _pair(tokens, text, tally)
    return _summarise(tally, plain_injury_is_serious)


_Token = Amount | _Word | _Fact


def _tokens(text: str) -> list[_Token]:
    """Words, facts and the numbers near the words, in text order, without overlaps."""
    found: list[_Token] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    while (m := _WORDS_RX.search(text, pos)) is not None:
        word = m.group()
        if m.end() < len(text) and text[m.end()] in _NOT_BEFORE.get(word, ""):
            pos = m.start() + 1  # 无人伤亡: 人伤 is refused, so 伤亡 must still be found
            continue
        pos = m.end()
        got = _read_word(text, word, m.start(), m.end())
        found.extend(got)
        if got:
            spans.append((m.start(), m.end()))
    money = any(isinstance(t, _Word) and t.kind in (K_LOSS, K_LOSS_PLAIN) for t in found)
    for lo, hi in _windows(text, spans):
        found.extend(amounts_in(text, lo, hi, money))
    return _without_overlaps(found)


def _read_word(text: str, word: str, start: int, end: int) -> list[_Token]:
    kind = LEXICON[word]
    if (
        word in _NEGATED_KINDS
        and not _NEGATORS.isdisjoint(text[max(0, start - NEGATION_REACH) : start])
        and _NEGATION.search(text, max(0, start - NEGATION_REACH), start)
    ):
        return [_Fact(start, start, k, 0, False) for k in _NEGATED_KINDS[word]]
    if word in ("伤", "亡") and text[start - 1 : start] in ("人", "名"):
        # Headline forms 6人亡, 3人伤.
        if word == "伤" and text[end : end + 1] in _NOT_HURT and end < len(text):
            return []
        return [_Word(start, end, K_DEATH if word == "亡" else K_HURT)]
    if kind == K_COMPACT:
        return list(_compact(text, start))
    if word in ("送往", "送至", "送到"):
        hospital = _SENT_TO_HOSPITAL.match(text, end)
        if hospital is None:
            return []
        end = hospital.end()
    elif kind == K_LOSS:
        loss_kind = _loss_kind(text, start)
        if loss_kind is None:
            return []
        kind = loss_kind
    return [_Word(start, end, kind, weak=word in _WEAK and kind != K_LOSS)]


def _loss_kind(text: str, start: int) -> str | None:
    """经济损失/直接损失 say a loss occurred; 间接损失 is not the direct loss graded on."""
    before = text[max(0, start - 4) : start]
    if before.endswith(("间接", "间接经济", "间接财产")):
        return None
    return K_LOSS if before.endswith(("经济", "财产", "直接")) else K_LOSS_PLAIN


def _compact(text: str, at: int) -> Iterator[_Fact]:
    for m in _COMPACT.finditer(text, max(0, at - 6), min(len(text), at + 8)):
        if not m.start() <= at < m.end():
            continue
        dead = m["cd"] or m["cd2"] or m["cd3"]
        hurt = m["ci"] or m["ci2"]
        hurt_kind = {"重": K_SERIOUS, "轻": K_LIGHT}.get(m["cq"], K_HURT)  # 1死1重伤
        for numeral, kind in ((dead, K_DEATH), (hurt, hurt_kind)):
            if numeral is not None:
                value, floor = read_number(numeral)
                if value is not None:
                    yield _Fact(m.start(), m.start(), kind, value, floor)


def _windows(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merged stretches around the words, widened so no number is cut in two."""
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        lo, hi = max(0, start - WINDOW), min(len(text), end + WINDOW)
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    widened = []
    for lo, hi in merged:
        stop_lo, stop_hi = max(0, lo - WIDEN_MAX), min(len(text), hi + WIDEN_MAX)
        while lo > stop_lo and text[lo - 1] in NUMERAL_CHARS:
            lo -= 1
        while hi < stop_hi and text[hi] in NUMERAL_TAIL:
            hi += 1
        widened.append((lo, hi))
    return widened


def _without_overlaps(tokens: list[_Token]) -> list[_Token]:
    """Earliest first, longest on a tie: 20多人 beats 多人, 数百万元 beats 百万元."""
    tokens.sort(key=lambda t: (t.start, -t.end))
    kept: list[_Token] = []
    reach = -1
    for tok in tokens:
        if isinstance(tok, _Fact) or tok.start >= reach:
            kept.append(tok)
            reach = max(reach, tok.end)
    return kept


def _pair(tokens: list[_Token], text: str, tally: _Tally) -> None:
    """Pair amounts with words, left to right, each token used once."""
    i, n = 0, len(tokens)
    loose: Amount | None = None  # the last amount left without a word
    while i < n:
        tok = tokens[i]
        if isinstance(tok, _Fact):
            tally.add(tok.kind, tok.value, tok.floor)
            i, loose = i + 1, None
        elif isinstance(tok, _Word):
            i, loose = i + _pair_word(tokens, i, text, tally), None
        else:
            kinds = _words_after(tokens, i, text)
            if kinds:
                _record(tally, _gravest(kinds), _joined(loose, tok, text))
            i, loose = i + 1 + len(kinds), (None if kinds else tok)


def _joined(loose: Amount | None, amount: Amount, text: str) -> Amount:
    """140名囚犯和2名工作人员 is one subject of 142."""
    if (
        loose is None
        or loose.money
        or loose.value is None
        or amount.value is None
        or not _JOINED.fullmatch(text, loose.end, amount.start)
    ):
        return amount
    return amount._replace(value=loose.value + amount.value, floor=loose.floor or amount.floor)


def _pair_word(tokens: list[_Token], i: int, text: str, tally: _Tally) -> int:
    """A word takes the amount after it (死亡6人) unless that amount sits closer to the next
    word (受伤司机和2名乘客死亡). Returns how many tokens were used."""
    word = tokens[i]
    assert isinstance(word, _Word)
    amount = tokens[i + 1] if i + 1 < len(tokens) else None
    if isinstance(amount, Amount) and _links_after(word, amount, text):
        ahead = _words_after(tokens, i + 1, text)
        following = tokens[i + 2] if ahead else None
        back_gap = amount.start - word.end
        if not (isinstance(following, _Word) and following.start - amount.end < back_gap):
            _record(tally, word.kind, amount)
            return 2
    if not word.weak:
        tally.bare.add(word.kind)
    return 1


def _words_after(tokens: list[_Token], i: int, text: str) -> list[str]:
    """The chain of words right after amount i (2人送医后不治身亡), if it links to them."""
    amount = tokens[i]
    assert isinstance(amount, Amount)
    if not amount.unit:
        return []
    kinds: list[str] = []
    end = amount.end
    for j in range(i + 1, len(tokens)):  # by index: a slice would copy the rest every time
        tok = tokens[j]
        if not isinstance(tok, _Word) or not _compatible(tok.kind, amount):
            break
        gap = text[end : tok.start]
        if not (_gap_ok(gap, amount) if not kinds else _chain_gap_ok(gap)):
            break
        kinds.append(tok.kind)
        end = tok.end
    return kinds


def _chain_gap_ok(gap: str) -> bool:
    return len(gap) <= MAX_GAP and not _BREAK.search(gap)


def _gap_ok(gap: str, amount: Amount) -> bool:
    if len(gap) > MAX_GAP or _BREAK.search(gap) or _VEHICLE_END.search(gap):
        return False
    # 3个小时后死亡: 个 counts hours there, not people.
    return not (amount.measure == "个" and _TIME_AFTER_GE.match(gap))


def _links_after(word: _Word, amount: Amount, text: str) -> bool:
    """死亡6人, 遇难者增至12人, 经济损失约3000万元."""
    if not _compatible(word.kind, amount):
        return False
    gap = text[word.end : amount.start]
    # 伤员救治的医护人员达1916名: a 的 inside the gap starts a new subject. 个 after the word
    # is too loose a measure (打死都只爱我一个).
    return (
        len(gap) <= MAX_GAP
        and not _BREAK.search(gap)
        and not _SPACE.search(gap)
        and "的" not in gap[:-1]
        and amount.measure != "个"
    )


def _compatible(kind: str, amount: Amount) -> bool:
    return (kind in (K_LOSS, K_LOSS_PLAIN)) == amount.money


def _gravest(kinds: list[str]) -> str:
    """2人受伤后经抢救无效死亡: the chain's outcome is death; otherwise its first word."""
    return K_DEATH if K_DEATH in kinds else kinds[0]


def _record(tally: _Tally, kind: str, amount: Amount) -> None:
    if amount.value is None:
        tally.bare.add(kind)
    elif kind == K_LOSS_PLAIN:
        tally.add(K_LOSS, amount.value, amount.floor)
    elif kind == K_CASUALTY:
        # 12人伤亡 gives no split between deaths and injuries.
        tally.bare.add(kind)
    else:
        tally.add(kind, amount.value, amount.floor)


def _summarise(tally: _Tally, plain_injury_is_serious: bool) -> Casualties:
    values: dict[str, int | None] = {}
    floors: set[str] = set()
    for name, kind in (
        (DEATHS, K_DEATH),
        (MISSING, K_MISSING),
        (TRAPPED, K_TRAPPED),
        (LOSS, K_LOSS),
    ):
        best = tally.best(kind)
        values[name] = best[0] if best else None
        if best and best[1]:
            floors.add(name)
    injured, serious, injury_floors = _injuries(tally, plain_injury_is_serious)
    values[INJURED], values[SERIOUS] = injured, serious
    floors |= injury_floors
    uncertain = _uncertain(tally, values, plain_injury_is_serious)
    return Casualties(
        deaths=values[DEATHS], missing=values[MISSING], injured=injured,
        serious_injured=serious, trapped=values[TRAPPED], loss_yuan=values[LOSS],
        lower_bounds=tuple(f for f in FIELD_ORDER if f in floors and values[f] is not None),
        uncertain=uncertain,
    )  # fmt: skip


def _injuries(tally: _Tally, plain_is_serious: bool) -> tuple[int | None, int | None, set[str]]:
    """Total and serious injuries from plain (受伤), serious (重伤) and light (轻伤) mentions.

    A plain total at least as large as the qualified ones is the whole (10人受伤，其中3人重伤);
    a smaller one is a further group. The plain part not accounted for as light or serious is
    unqualified, and counts as serious when `plain_is_serious`.
    """
    plain, heavy = tally.best(K_HURT), tally.best(K_SERIOUS)
    light = [b for b in (tally.best(K_LIGHT), tally.best(K_SLIGHT)) if b]
    qualified = [b for b in (heavy, *light) if b]
    if plain is None and not qualified:
        return None, None, set()
    q_total = sum(v for v, _ in qualified)
    q_floor = any(f for _, f in qualified)
    heavy_v = heavy[0] if heavy else 0
    if plain is None:
        injured, unqualified, floor = q_total, 0, q_floor
    elif plain[0] >= q_total:
        injured, unqualified, floor = plain[0], plain[0] - q_total, plain[1]
    else:
        injured, unqualified, floor = plain[0] + q_total, plain[0], plain[1] or q_floor
    serious: int | None = heavy_v + unqualified if plain_is_serious else heavy_v
    if not qualified and not (plain_is_serious and plain is not None):
        serious = None  # only plain 受伤, not counted as serious: unknown, not zero
    floors = {INJURED} if floor else set()
    if serious is not None and ((heavy and heavy[1]) or (plain_is_serious and plain and plain[1])):
        floors.add(SERIOUS)
    return injured, serious, floors


def _uncertain(
    tally: _Tally, values: dict[str, int | None], plain_is_serious: bool
) -> tuple[str, ...]:
    """Fields mentioned (a word without a number, 数十人, 多人) whose value stayed unknown."""
    named: set[str] = set()
    for kind in tally.bare:
        named.update(_KIND_FIELDS[kind])
        if kind == K_HURT and plain_is_serious:
            named.add(SERIOUS)
    return tuple(f for f in FIELD_ORDER if f in named and values[f] is None)
