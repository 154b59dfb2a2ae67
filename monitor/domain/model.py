"""Records shared by every part of the monitor.

msgspec Structs: they validate on decode, encode to JSON fast, and are immutable, so a record
that crossed a topic cannot be changed behind another component's back.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

import msgspec

# Every field a source or a person fills has a length limit, checked by every decoder (topic
# records, `monitor post`, the API's round trip), so nothing over it is archived and no record
# built from it can exceed the broker's limit. 50,000 characters hold any news article; at most
# 6 bytes each as JSON, a post stays well under streams' 512 KiB record limit.
MAX_TEXT_CHARS = 50_000
MAX_TEXT_BYTES = 4 * MAX_TEXT_CHARS  # what MAX_TEXT_CHARS characters take at most in UTF-8
MAX_ID_CHARS = 200  # the archive's id column


def limited(chars: int) -> msgspec.Meta:
    return msgspec.Meta(max_length=chars)


Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_CHARS)]
Name = Annotated[str, limited(200)]
Url = Annotated[str, limited(2048)]
Count = Annotated[int, msgspec.Meta(ge=-(10**15), le=10**15)]


class Grade(StrEnum):
    """突发事件应对法 grades, most severe first."""

    I = "I"  # noqa: E741  (the legal name of the grade)
    II = "II"
    III = "III"
    IV = "IV"

    @property
    def rank(self) -> int:
        """Higher is graver: I → 4, IV → 1."""
        return GRADE_RANKS[self]

    @property
    def label(self) -> str:
        return GRADE_LABELS[self]

    @classmethod
    def graver(cls, *grades: Grade | None) -> Grade | None:
        present = [g for g in grades if g is not None]
        return max(present, key=lambda g: g.rank) if present else None


GRADE_LABELS = {Grade.I: "特别重大", Grade.II: "重大", Grade.III: "较大", Grade.IV: "一般"}
GRADE_RANKS = {Grade.I: 4, Grade.II: 3, Grade.III: 2, Grade.IV: 1}


class Post(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One item from a source, normalised. `published_at` is the event time."""

    id: Id
    text: Annotated[str, limited(MAX_TEXT_CHARS)]
    title: Annotated[str, limited(1000)] | None = None
    source: Name | None = None
    url: Url | None = None
    author: Name | None = None
    author_id: Name | None = None
    author_followers: Count | None = None
    author_verified: bool | None = None
    published_at: datetime | None = None
    observed_at: datetime | None = None
    reposts: Count | None = None
    comments: Count | None = None
    likes: Count | None = None
    region: Name | None = None
    repost_of: Id | None = None
    official: bool = False
    department: Name | None = None

    @property
    def full_text(self) -> str:
        return f"{self.title}\n{self.text}" if self.title else self.text


def checked(post: Post) -> Post:
    """`post` as a decoder would give it: msgspec.ValidationError names a field over its limit
    (a Post built in code is not checked; one decoded from bytes always is)."""
    return msgspec.convert(msgspec.to_builtins(post), Post)


class Casualties(msgspec.Struct, frozen=True, kw_only=True):
    """Facts read from text. None means not mentioned.

    `lower_bounds` names fields whose number is a floor (十余人 → 10); `uncertain` names fields
    mentioned with no usable number (数十人), so a reader knows the null is not "none".
    """

    deaths: int | None = None
    missing: int | None = None
    injured: int | None = None
    serious_injured: int | None = None
    trapped: int | None = None
    loss_yuan: int | None = None
    lower_bounds: tuple[str, ...] = ()
    uncertain: tuple[str, ...] = ()


class Place(msgspec.Struct, frozen=True, kw_only=True):
    """A recognised place: its level, name, code and where in the text it was seen."""

    level: str  # province | city | county | town
    name: str
    code: str | None
    mention: str
    start: int
    province: str | None = None
    city: str | None = None
    county: str | None = None
    county_code: str | None = None
    in_jurisdiction: bool = False


class Location(msgspec.Struct, frozen=True, kw_only=True):
    in_jurisdiction: bool | None = None
    province: str | None = None
    province_code: str | None = None
    city: str | None = None
    city_code: str | None = None
    county: str | None = None
    county_code: str | None = None
    town: str | None = None
    town_code: str | None = None
    places: tuple[str, ...] = ()


class Responsible(msgspec.Struct, frozen=True, kw_only=True):
    """属地 × 谁主管 × 分级. `level` is "city", "county" or None (not assigned)."""

    level: str | None = None
    lead: str | None = None
    co: tuple[str, ...] = ()

    @property
    def bodies(self) -> tuple[str, ...]:
        return ((self.lead,) if self.lead else ()) + self.co


class Classification(msgspec.Struct, frozen=True, kw_only=True):
    post_id: str
    is_incident: bool
    category: str
    confidence: float
    keywords: tuple[str, ...]
    casualties: Casualties
    location: Location
    grade: Grade | None
    grade_basis: str | None
    responsible: Responsible
