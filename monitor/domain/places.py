"""Where a text is about: place mentions resolved to divisions with NBS codes.

The gazetteer holds the city's own counties and towns (from config, with legacy town names)
and every province, city and county of China (so 重庆市大足区 is known to be outside). A scanner
at the edge finds mentions; `locate` resolves them with the text's own context.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from monitor.domain.model import Location

LEVEL_RANK = {"province": 1, "city": 2, "county": 3, "town": 4}


@dataclass(frozen=True, slots=True)
class PlaceEntry:
    level: str
    name: str
    code: str | None
    province: str | None = None
    province_code: str | None = None
    city: str | None = None
    city_code: str | None = None
    county: str | None = None
    county_code: str | None = None
    ours: bool = False
    current: bool = True

    @property
    def parent_key(self) -> str | None:
        """The name of the division directly above, used to match context."""
        return {"town": self.county, "county": self.city, "city": self.province}.get(self.level)


@dataclass(frozen=True)
class Gazetteer:
    entries: Mapping[str, tuple[PlaceEntry, ...]]  # mention -> candidates
    home_province: str

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.entries)


class GazetteerBuilder:
    """Collects entries; a mention may name several places (朝阳区, or a town in two lists)."""

    def __init__(self, home_province: str) -> None:
        self._entries: dict[str, list[PlaceEntry]] = {}
        self._home = home_province

    def add(self, mention: str, entry: PlaceEntry) -> None:
        bucket = self._entries.setdefault(mention, [])
        if entry not in bucket:
            bucket.append(entry)

    def build(self) -> Gazetteer:
        return Gazetteer({k: tuple(v) for k, v in self._entries.items()}, self._home)


@dataclass(frozen=True, slots=True)
class _Mention:
    text: str
    start: int
    entry: PlaceEntry


def locate(hits: Iterable[tuple[str, int]], gazetteer: Gazetteer) -> Location:
    """Resolve place hits (mention, offset) into the text's most specific place."""
    raw = [(m, s, gazetteer.entries[m]) for m, s in hits if m in gazetteer.entries]
    if not raw:
        return Location()
    mentions = [
        _Mention(m, s, cands[0] if len(cands) == 1 else _choose(cands, _context(raw, i)))
        for i, (m, s, cands) in enumerate(raw)
    ]
    primary = min(mentions, key=lambda x: (-LEVEL_RANK[x.entry.level], x.start))
    entry = _collapse_several_counties(primary.entry, mentions)
    names = tuple(dict.fromkeys(m.entry.name for m in mentions))
    return _location(entry, names, gazetteer.home_province)


def _context(raw: Sequence[tuple[str, int, tuple[PlaceEntry, ...]]], skip: int) -> set[str]:
    """Names of every division the other mentions could be in or be: used to break ties."""
    names: set[str] = set()
    for i, (_m, _s, candidates) in enumerate(raw):
        if i == skip:
            continue
        for c in candidates:
            names.update(n for n in (c.name, c.county, c.city, c.province) if n)
    return names


def _choose(candidates: tuple[PlaceEntry, ...], context: set[str]) -> PlaceEntry:
    # Context first (a named parent), then today's list over legacy names, then our own.
    return max(
        candidates,
        key=lambda c: (c.parent_key in context, c.current, c.ours),
    )


def _collapse_several_counties(entry: PlaceEntry, mentions: Sequence[_Mention]) -> PlaceEntry:
    """Several of our counties and no town: the place is the city, not any one county."""
    if entry.level != "county" or not entry.ours:
        return entry
    ours = {m.entry.county for m in mentions if m.entry.ours and m.entry.level == "county"}
    if len(ours) < 2:
        return entry
    return replace(entry, level="city", name=entry.city or "", code=entry.city_code,
                   county=None, county_code=None)  # fmt: skip


def _location(entry: PlaceEntry, names: tuple[str, ...], home_province: str) -> Location:
    if entry.ours:
        in_jurisdiction: bool | None = True
    elif entry.level == "province" and entry.name == home_province:
        in_jurisdiction = None  # the province contains the city: not enough to say
    else:
        in_jurisdiction = False
    return Location(
        in_jurisdiction=in_jurisdiction,
        province=entry.province,
        province_code=entry.province_code,
        city=entry.city,
        city_code=entry.city_code,
        county=entry.county,
        county_code=entry.county_code,
        town=entry.name if entry.level == "town" else None,
        town_code=entry.code if entry.level == "town" else None,
        places=names,
    )


def province_short(name: str) -> str | None:
    """四川省 → 四川, 广西壮族自治区 → 广西, 北京市 → 北京."""
    for suffix in ("维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "特别行政区", "省", "市"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return None


def city_short(name: str) -> str | None:
    """成都市 → 成都; autonomous prefectures and 地区 keep their full names only."""
    if name.endswith("市") and len(name) >= 3:
        return name[:-1]
    return None


def national_entries(
    rows: Iterable[tuple[str, str, str, str]], skip_code_prefix: str
) -> Iterable[tuple[str, PlaceEntry]]:
    """Entries from (level, code, name, parent_code) rows of the national division table.

    Rows under `skip_code_prefix` (the city itself) are skipped: the config describes it.
    """
    rows = list(rows)
    provinces = {code: name for level, code, name, _ in rows if level == "province"}
    cities = {code: name for level, code, name, _ in rows if level == "city"}
    counties = {code: name for level, code, name, _ in rows if level == "county"}
    for level, code, name, _parent in rows:
        if code.startswith(skip_code_prefix):
            continue
        prov_code = code[:2]
        prov = provinces.get(prov_code)
        if level == "province":
            entry = PlaceEntry("province", name, code, province=name, province_code=code)
            yield name, entry
            short = province_short(name)
            if short:
                yield short, entry
        elif level == "city":
            entry = PlaceEntry("city", name, code, province=prov, province_code=prov_code,
                               city=name, city_code=code)  # fmt: skip
            yield name, entry
            short = city_short(name)
            if short:
                yield short, entry
        else:
            # Municipalities have no city row (市辖区): the province is the city.
            city_code = code[:4]
            today = counties.get(code, name)  # a renamed county resolves to today's name
            entry = PlaceEntry(
                "county", today, code, province=prov, province_code=prov_code,
                city=cities.get(city_code, prov), city_code=city_code, county=today,
                county_code=code, current=level == "county",
            )  # fmt: skip
            yield name, entry
