"""Escalation ladder, contacts and channels from YAML, validated with file/line/path errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from monitor.config.loader import ConfigError, ConfigIssue, LineMap, format_path, read_yaml
from monitor.domain import escalation as esc
from monitor.domain.model import Grade

DEFAULT_LADDER = Path(__file__).with_name("ziyang_escalation.yaml")

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
ChannelType = Literal["wecom", "dingtalk", "feishu", "email", "webhook", "dryrun"]
IssuePath = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)

# Per-robot limits published by each service; a channel may lower them.
DEFAULT_RATE_PER_MINUTE = {"wecom": 20, "dingtalk": 20, "feishu": 100, "email": 60,
                           "webhook": 600, "dryrun": 100_000}  # fmt: skip
SIGNED_TYPES = frozenset({"dingtalk", "feishu", "webhook"})
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChannelSpec(Strict):
    """One endpoint: a robot, a mailbox server, a webhook. `to` are default mail recipients."""

    name: Name
    type: ChannelType
    url: Name
    secret: str | None = None
    sender: str | None = None
    username: str | None = None
    to: tuple[Name, ...] = ()
    rate_per_minute: int | None = Field(default=None, ge=1)
    timeout_s: float = Field(default=10.0, gt=0, le=120)

    @property
    def limit_per_minute(self) -> int:
        return self.rate_per_minute or DEFAULT_RATE_PER_MINUTE[self.type]


class MatchSpec(Strict):
    steps: tuple[esc.Step, ...] = ()
    grades: tuple[Grade, ...] = ()
    bodies: tuple[Name, ...] = ()
    categories: tuple[Name, ...] = ()
    clocks: tuple[Name, ...] = ()
    warning_before_min: tuple[int, ...] = ()
    in_jurisdiction: bool | None = None


class RouteSpec(Strict):
    name: Name
    match: MatchSpec = MatchSpec()
    roles: tuple[esc.Role, ...] | None = None
    quiet_hours: bool | None = None
    continue_: bool = Field(default=False, alias="continue")
    routes: tuple[RouteSpec, ...] = ()


class ReachSpec(Strict):
    channel: Name
    address: Name | None = None


class ContactSpec(Strict):
    name: Name
    role: esc.Role
    body: Name | None = None
    reach: tuple[ReachSpec, ...] = Field(min_length=1)


class QuietSpec(Strict):
    start: Name
    end: Name


class LadderFile(Strict):
    version: Name = "1"
    utc_offset: Name = "+08:00"
    quiet_hours: QuietSpec | None = None
    channels: tuple[ChannelSpec, ...] = Field(min_length=1)
    route: RouteSpec
    contacts: tuple[ContactSpec, ...] = Field(min_length=1)


class ChannelsFile(Strict):
    channels: tuple[ChannelSpec, ...] = Field(min_length=1)


class NotifySettings(BaseModel):
    """The loaded policy (pure ladder) and the endpoints it names."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    ladder: esc.Ladder
    channels: dict[str, ChannelSpec]


def load_ladder(
    path: str | Path | None = None, known_bodies: set[str] | None = None
) -> NotifySettings:
    """Read a ladder file; raise ConfigError listing every problem with its line.

    `known_bodies` (from the city config) lets us reject a contact or route for a body that
    does not exist, which would otherwise silently never match.
    """
    file = str(path or DEFAULT_LADDER)
    data, lines = read_yaml(file)
    spec = _validate(LadderFile, data, file, lines)
    problems = list(_ladder_issues(spec, known_bodies))
    if problems:
        raise ConfigError([_issue(file, lines, p, r) for p, r in problems])
    ladder = esc.Ladder(
        route=_route(spec.route),
        contacts=tuple(_contact(c) for c in spec.contacts),
        quiet_hours=_quiet(spec.quiet_hours, _offset_min(spec.utc_offset)),
        version=spec.version,
    )
    return NotifySettings(ladder=ladder, channels={c.name: c for c in spec.channels})


def load_channels(path: str | Path) -> list[ChannelSpec]:
    """Read a `channels:` file (for `monitor notify test`)."""
    file = str(path)
    data, lines = read_yaml(file)
    spec = _validate(ChannelsFile, data, file, lines)
    problems = list(_channel_issues(spec.channels))
    if problems:
        raise ConfigError([_issue(file, lines, p, r) for p, r in problems])
    return list(spec.channels)


def _validate(model: type[M], data: Any, file: str, lines: LineMap) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        issues = []
        for err in exc.errors():
            loc = tuple("continue" if p == "continue_" else p for p in err["loc"])
            issues.append(ConfigIssue(file, lines.line_of(loc), format_path(loc), err["msg"]))
        raise ConfigError(issues) from exc


def _issue(file: str, lines: LineMap, path: IssuePath, reason: str) -> ConfigIssue:
    return ConfigIssue(file, lines.line_of(path), format_path(path), reason)


def _ladder_issues(spec: LadderFile, bodies: set[str] | None) -> Iterator[tuple[IssuePath, str]]:
    yield from _channel_issues(spec.channels)
    if _OFFSET.match(spec.utc_offset) is None:
        yield ("utc_offset",), f"{spec.utc_offset!r} is not an offset like +08:00"
    if spec.quiet_hours is not None:
        for field in ("start", "end"):
            value = getattr(spec.quiet_hours, field)
            if _HHMM.match(value) is None:
                yield ("quiet_hours", field), f"{value!r} is not a time like 22:00"
    yield from _contact_issues(spec, bodies)
    yield from _route_issues(spec.route, ("route",), bodies, set())
    yield from _coverage_issues(spec)


def _channel_issues(channels: tuple[ChannelSpec, ...]) -> Iterator[tuple[IssuePath, str]]:
    seen: set[str] = set()
    for i, ch in enumerate(channels):
        if ch.name in seen:
            yield ("channels", i, "name"), f"channel name {ch.name!r} is used twice"
        seen.add(ch.name)
        if ch.type in SIGNED_TYPES and not ch.secret:
            yield ("channels", i, "secret"), f"a {ch.type} channel needs its signing secret"
        if ch.type == "email" and not ch.sender:
            yield ("channels", i, "sender"), "an email channel needs a sender address"
        schemes = (
            ("smtp://", "smtps://") if ch.type == "email" else ("http://", "https://", "dryrun:")
        )
        if not ch.url.startswith(schemes):
            yield ("channels", i, "url"), f"url must start with {' or '.join(schemes)}"


def _contact_issues(spec: LadderFile, bodies: set[str] | None) -> Iterator[tuple[IssuePath, str]]:
    names = {c.name for c in spec.channels}
    for i, contact in enumerate(spec.contacts):
        if contact.body is not None and bodies is not None and contact.body not in bodies:
            yield ("contacts", i, "body"), f"{contact.body!r} is not a body of the city config"
        if contact.body is not None and contact.role in esc.CITY_WIDE_ROLES:
            yield ("contacts", i, "body"), f"role {contact.role.value} is city-wide; remove body"
        for j, reach in enumerate(contact.reach):
            if reach.channel not in names:
                yield ("contacts", i, "reach", j, "channel"), f"no channel named {reach.channel!r}"


def _route_issues(
    route: RouteSpec, path: IssuePath, bodies: set[str] | None, names: set[str]
) -> Iterator[tuple[IssuePath, str]]:
    if route.name in names:
        yield (*path, "name"), f"route name {route.name!r} is used twice"
    names.add(route.name)
    for j, body in enumerate(route.match.bodies):
        if bodies is not None and body not in bodies:
            yield (*path, "match", "bodies", j), f"{body!r} is not a body of the city config"
    for i, child in enumerate(route.routes):
        yield from _route_issues(child, (*path, "routes", i), bodies, names)


def _coverage_issues(spec: LadderFile) -> Iterator[tuple[IssuePath, str]]:
    held = {c.role for c in spec.contacts}
    for path, route in _walk(spec.route, ("route",)):
        for k, role in enumerate(route.roles or ()):
            if role not in held:
                yield (*path, "roles", k), f"role {role.value} is routed to but no contact holds it"


def _walk(route: RouteSpec, path: IssuePath) -> Iterator[tuple[IssuePath, RouteSpec]]:
    yield path, route
    for i, child in enumerate(route.routes):
        yield from _walk(child, (*path, "routes", i))


def _route(spec: RouteSpec) -> esc.Route:
    m = spec.match
    return esc.Route(
        name=spec.name,
        match=esc.Matchers(
            steps=frozenset(m.steps), grades=frozenset(m.grades), bodies=frozenset(m.bodies),
            categories=frozenset(m.categories), clocks=frozenset(m.clocks),
            warning_before_min=frozenset(m.warning_before_min),
            in_jurisdiction=m.in_jurisdiction,
        ),
        roles=spec.roles,
        quiet_hours=spec.quiet_hours,
        continue_=spec.continue_,
        routes=tuple(_route(c) for c in spec.routes),
    )  # fmt: skip


def _contact(spec: ContactSpec) -> esc.Contact:
    reach = tuple(esc.Reach(channel=r.channel, address=r.address) for r in spec.reach)
    return esc.Contact(name=spec.name, role=spec.role, body=spec.body, reach=reach)


def _quiet(spec: QuietSpec | None, offset_min: int) -> esc.QuietHours | None:
    if spec is None:
        return None
    return esc.QuietHours(
        start=time.fromisoformat(spec.start),
        end=time.fromisoformat(spec.end),
        utc_offset_min=offset_min,
    )


def _offset_min(text: str) -> int:
    m = _OFFSET.match(text)
    if m is None:  # already reported by _ladder_issues
        return 480
    sign = -1 if m.group(1) == "-" else 1
    return sign * (int(m.group(2)) * 60 + int(m.group(3)))


def city_bodies(cfg: Any) -> set[str]:
    """Every body a city config can assign (CityConfig.bodies)."""
    return set(cfg.bodies())
