"""Responsible bodies: 属地管理 × 谁主管谁负责 × 分级负责.

grade I/II → the city department leads, the county government co-responsible;
III/IV → the county government leads, the city department supervises;
no county, or several → the city department; outside the jurisdiction → nobody is assigned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from monitor.domain.model import Grade, Location, Responsible

CITY_LEVEL = (Grade.I, Grade.II)


@dataclass(frozen=True, slots=True)
class Department:
    name: str
    with_: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoutingTable:
    departments: Mapping[str, Department]  # category key -> city department
    county_bodies: Mapping[str, str]  # county name -> its government body


def responsible(
    category: str, grade: Grade | None, loc: Location, table: RoutingTable
) -> Responsible:
    dept = table.departments.get(category)
    if dept is None or grade is None or not loc.in_jurisdiction:
        return Responsible()
    county_body = table.county_bodies.get(loc.county) if loc.county else None
    if county_body is None:
        return Responsible(level="city", lead=dept.name, co=dept.with_)
    if grade in CITY_LEVEL:
        return Responsible(level="city", lead=dept.name, co=(*dept.with_, county_body))
    return Responsible(level="county", lead=county_body, co=(dept.name, *dept.with_))
