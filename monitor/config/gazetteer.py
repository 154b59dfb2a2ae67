"""Build the place gazetteer from the city config and the national division table."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from monitor.config.schema import CityConfig, County
from monitor.domain.places import Gazetteer, GazetteerBuilder, PlaceEntry, national_entries

NATIONAL_TABLE = Path(__file__).with_name("data") / "cn_divisions.tsv"


def national_rows(path: Path = NATIONAL_TABLE) -> Iterator[tuple[str, str, str, str]]:
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            level, code, name, parent = line.rstrip("\n").split("\t")
            yield level, code, name, parent


def build_gazetteer(cfg: CityConfig, national: Path = NATIONAL_TABLE) -> Gazetteer:
    j = cfg.jurisdiction
    b = GazetteerBuilder(home_province=j.province)
    for mention, entry in national_entries(national_rows(national), skip_code_prefix=j.code):
        b.add(mention, entry)
    city = PlaceEntry("city", j.name, j.code, province=j.province, province_code=j.province_code,
                      city=j.name, city_code=j.code, ours=True)  # fmt: skip
    for mention in (j.name, *j.aliases):
        b.add(mention, city)
    for county in j.counties:
        _add_county(b, city, county)
    return b.build()


def _add_county(b: GazetteerBuilder, city: PlaceEntry, county: County) -> None:
    entry = replace(city, level="county", name=county.name, code=county.code,
                    county=county.name, county_code=county.code)  # fmt: skip
    for mention in (county.name, *county.aliases):
        b.add(mention, entry)
    towns = {}
    for town in county.towns:
        towns[town.name] = replace(entry, level="town", name=town.name, code=town.code)
        for mention in (town.name, *town.aliases):
            b.add(mention, towns[town.name])
    for legacy in county.legacy_towns:
        # An old name maps to today's town where known; else it stays a town of its county
        # with no code. Either way it loses a tie against a name on today's list.
        if legacy.now is not None:
            b.add(legacy.name, replace(towns[legacy.now], current=False))
        else:
            b.add(legacy.name, replace(entry, level="town", name=legacy.name, code=None,
                                       current=False))  # fmt: skip
