"""Chinese and Arabic numerals to integers, for the counts and sums found in news text.

Hand-written rather than cn2an: cn2an.cn2an("一百零五", "smart") costs ~13 µs a call on this
machine, while a post with casualties holds several numbers and the whole classify core has a
budget of ~50 µs a post. This reader covers what reports use (up to 9999亿, 两, 〇, 零,
digit-by-digit forms such as 二〇〇八) in well under a microsecond.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

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
