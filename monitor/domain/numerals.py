"""Numerals and amounts in news text: counts of people (6人, 十二名, 20余万人, 三男两女) and
sums of money (3000万元, 1.2亿元), each with whether it is only a floor (十余人, 至少6人).

Hand-written rather than cn2an: cn2an.cn2an("一百零五", "smart") costs ~13 µs a call on this
machine, while a post with casualties holds several numbers and the whole classify core has a
budget of ~50 µs a post. This reader covers what reports use (up to 9999亿, 两, 〇, 零,
digit-by-digit forms such as 二〇〇八) in well under a microsecond.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import NamedTuple

DIGITS = {
    "零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
    "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
}  # fmt: skip
SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
BIG_UNITS = {"万": 10_000, "亿": 100_000_000}
CHINESE_NUMERAL_CHARS = "".join(DIGITS) + "".join(SMALL_UNITS) + "".join(BIG_UNITS)

# Longer numerals are not counts or sums anyone reports; refusing them early also keeps int()
# clear of its 4300-digit limit on hostile input.
MAX_NUMERAL_LEN = 20

# int() and Decimal() already read full-width digits; only the full-width point needs mapping.
_POINT = str.maketrans({"．": "."})


class NumeralError(ValueError):
    """The text is not a numeral this module can read."""


def chinese_to_int(text: str) -> int:
    """Read a Chinese numeral: 十二 → 12, 一百零五 → 105, 两 → 2, 一亿二千万 → 120000000."""
    value, _ = read_chinese(text)
    return value


def read_chinese(text: str) -> tuple[int, bool]:
    """Read a Chinese numeral; the flag says the value is only a floor.

    Reports write ranges by running two neighbouring digits together (两三人, 三四十人, 十三四人);
    those read as their lower end, flagged, rather than as 23 or 34.
    """
    _check_length(text)
    if any(ch not in CHINESE_NUMERAL_CHARS for ch in text):
        raise NumeralError(f"not a Chinese numeral: {text!r}")
    if "〇" not in text and "零" not in text:
        cut = _range_cut(text)
        if cut is not None:
            return _read_with_units(text[:cut] + text[cut + 1 :]), True
    if len(text) > 1 and all(ch in DIGITS for ch in text):
        # Digit-by-digit form (二〇〇八): each character is one decimal digit.
        return int("".join(str(DIGITS[ch]) for ch in text)), False
    return _read_with_units(text), False


def _check_length(text: str) -> None:
    if not text:
        raise NumeralError("empty numeral")
    if len(text) > MAX_NUMERAL_LEN:
        raise NumeralError(f"numeral longer than {MAX_NUMERAL_LEN} characters: {text[:24]!r}…")


def _range_cut(text: str) -> int | None:
    """Index of the upper digit of a run like 三四 (a range), if there is one."""
    for i in range(len(text) - 1):
        a, b = text[i], text[i + 1]
        if a in DIGITS and b in DIGITS and DIGITS[b] == DIGITS[a] + 1:
            return i + 1
    return None


def _read_with_units(text: str) -> int:
    above_wan = 0  # everything already multiplied by 万 or 亿
    section = 0  # the part below 万 being read
    digit: int | None = None
    for ch in text:
        if ch in DIGITS:
            digit = DIGITS[ch]
        elif ch in SMALL_UNITS:
            # A bare 十 means 一十 (十二 = 12).
            section += (1 if digit is None else digit) * SMALL_UNITS[ch]
            digit = None
        else:
            section += digit or 0
            digit = None
            if ch == "亿":
                above_wan = (above_wan + section) * BIG_UNITS[ch]
            else:
                above_wan += section * BIG_UNITS[ch]
            if section == 0 and above_wan == 0:
                raise NumeralError(f"{ch} with no number before it: {text!r}")
            section = 0
    return above_wan + section + (digit or 0)


def to_int(text: str) -> int:
    """Read an Arabic (half- or full-width) or Chinese integer numeral."""
    if text and text[0] in CHINESE_NUMERAL_CHARS:
        return chinese_to_int(text)
    _check_length(text)
    try:
        return int(text)
    except ValueError as exc:
        raise NumeralError(f"not an integer numeral: {text!r}") from exc


def to_decimal(text: str) -> Decimal:
    """Read a possibly fractional numeral, e.g. 1.2 or １．２ (Chinese numerals are whole)."""
    if text and text[0] in CHINESE_NUMERAL_CHARS:
        return Decimal(chinese_to_int(text))
    _check_length(text)
    try:
        return Decimal(text.translate(_POINT))
    except InvalidOperation as exc:
        raise NumeralError(f"not a decimal numeral: {text!r}") from exc


# --- amounts: numerals with their measure words, found in a stretch of text ------------------

_AR = r"[0-9０-９]+(?:[.．][0-9０-９]+)?"
NUM_PATTERN = f"(?:{_AR}|[{CHINESE_NUMERAL_CHARS}]+)"
NUMERAL_CHARS = "0123456789０１２３４５６７８９" + CHINESE_NUMERAL_CHARS
# What may follow a numeral inside an amount: a window over the text is widened by these so
# that no amount is cut in two.
NUMERAL_TAIL = NUMERAL_CHARS + "余多几名人位具个口例元亿.．以上"

# A run of numerals, or of the words that open a vague amount (数十, 上百, 大批, 若干), that
# ends where an amount can end. Most runs (一辆, 6日, 2008年, 大火) do not, and are passed
# over inside the regex engine rather than in Python. Bounded, so hostile input stays linear.
_AMOUNT_NEXT = "余多几万亿名人位具个口例元以男.．，。；、,;!！?？\\s）)"
_RUN = re.compile(f"[{NUMERAL_CHARS}数几上近多若干些众大批]{{1,24}}(?=[{_AMOUNT_NEXT}]|$)")
_FIRST_NUMERAL = re.compile(f"[{NUMERAL_CHARS}]")
_COUNT = re.compile(rf"({NUM_PATTERN})(余|多|几)?(万)?(余|多)?(名|人|位|具|个|口|例)(以上)?")
_MEN_WOMEN = re.compile(rf"({NUM_PATTERN})男({NUM_PATTERN})女[名人]?")  # 三男两女
_CN_BELOW_WAN = "[" + CHINESE_NUMERAL_CHARS.replace("万", "").replace("亿", "") + "]+"
_MONEY = re.compile(  # 亿 may carry a 万 part: 1亿2000万元
    rf"(?P<mn>{_AR}|{_CN_BELOW_WAN})(?P<mm1>余|多)?(?:(?P<yi>亿)(?:(?P<mn2>{NUM_PATTERN})万)?"
    r"|(?P<mwan>万))?(?P<mm2>余|多)?元"
)
# A number standing alone before a clause break: only valid after a word (死亡人数为6。).
_BARE = re.compile(rf"{_AR}(?=[，。；、,;!！?？\s）)]|$)")
# Groups with no usable number (数十人, 多人; 上百人 is a floor of 100) and vague sums.
_VAGUE = re.compile(
    "(?:数十|数百|数千|几十|几百|上百|上千|近百|近千|多|若干|一些|众多|大批|数)(?=[名人位具])"
)
_VAGUE_FLOORS = {"上百": 100, "上千": 1000}
_VAGUE_MONEY = re.compile("(?:数|几|上|近)(?:十|百|千)?(?:万|亿)元|数以(?:百|千)?万计")
_FLOOR_BEFORE = re.compile("(?:至少|最少|不少于|超过|逾)有?$")


class Amount(NamedTuple):
    """A count of people or a sum in 元 at text[start:end]. `value` None means vague (数十人).

    A NamedTuple: extraction builds many, and a frozen dataclass costs ten times as much.
    """

    start: int
    end: int
    value: int | None
    floor: bool
    money: bool
    unit: bool  # has a measure word; a bare number (死亡人数为6) only follows its word
    measure: str = ""


def amounts_in(text: str, lo: int, hi: int, money: bool) -> Iterator[Amount]:
    """Amounts in text[lo:hi]; sums of money only when asked for (`money`)."""
    reach = lo
    for m in _RUN.finditer(text, lo, hi):
        if m.start() < reach:  # inside the amount just read (the 万 of 20余万人)
            continue
        amount = _vague_at(text, m.start(), money)
        if amount is None:
            first = _FIRST_NUMERAL.search(text, m.start(), m.end())
            if first is not None:
                amount = _amount_at(text, first.start(), money)
        if amount is not None:
            reach = amount.end
            yield amount


def read_number(numeral: str) -> tuple[int | None, bool]:
    """A numeral's value (None if unreadable) and whether it is a floor (两三 → 2)."""
    if numeral.isdigit() and len(numeral) <= MAX_NUMERAL_LEN:
        return int(numeral), False  # isdigit() holds for full-width digits, which int() reads
    try:
        if numeral[0] in CHINESE_NUMERAL_CHARS:
            return read_chinese(numeral)
        return int(to_decimal(numeral)), False
    except NumeralError:
        return None, False


def _vague_at(text: str, at: int, money: bool) -> Amount | None:
    if money and (m := _VAGUE_MONEY.match(text, at)):
        return Amount(at, m.end(), None, False, money=True, unit=True)
    if m := _VAGUE.match(text, at):
        floor_value = _VAGUE_FLOORS.get(m.group())
        # The span takes in the measure word, so 多人 is not read again as a count.
        return Amount(at, m.end() + 1, floor_value, floor_value is not None, False, True)
    return None


def _amount_at(text: str, at: int, money: bool) -> Amount | None:
    floor_before = bool(_FLOOR_BEFORE.search(text, max(0, at - 4), at))
    if money and (sum_ := _MONEY.match(text, at)):
        return _money(sum_, floor_before)
    pair = _MEN_WOMEN.match(text, at)
    if pair:
        men, _ = read_number(pair[1])
        women, _ = read_number(pair[2])
        if men is not None and women is not None:
            return Amount(at, pair.end(), men + women, floor_before, False, True, "人")
    count = _COUNT.match(text, at)
    if count:
        if text[at - 1 : at] == "第":  # 第一名 is a rank
            return None
        return _count(count, floor_before)
    bare = _BARE.match(text, at)
    if bare:
        value, _ = read_number(bare.group())
        return Amount(at, bare.end(), value, floor_before, money=False, unit=False)
    return None


def _count(m: re.Match[str], floor_before: bool) -> Amount:
    numeral, more, wan, more_after, unit, above = m.groups()
    value, floor = read_number(numeral)
    if value is not None and wan:  # 2.5万人: scale before dropping the fraction
        chinese = numeral[0] in CHINESE_NUMERAL_CHARS
        value = value * 10_000 if chinese else int(to_decimal(numeral) * 10_000)
    floor = floor or floor_before or bool(more or more_after or above)
    return Amount(m.start(), m.end(), value, floor, False, True, unit)


def _money(m: re.Match[str], floor_before: bool) -> Amount:
    try:
        amount = to_decimal(m["mn"])
        if m["yi"]:
            amount *= 100_000_000
            if m["mn2"]:
                amount += to_decimal(m["mn2"]) * 10_000
        elif m["mwan"]:
            amount *= 10_000
        value: int | None = int(amount.to_integral_value())
    except NumeralError:
        value = None
    floor = floor_before or bool(m["mm1"] or m["mm2"])
    return Amount(m.start(), m.end(), value, floor, money=True, unit=True)
