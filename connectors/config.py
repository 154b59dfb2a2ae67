"""The sources file: which sources to read, how often, and with which credentials.

    sources:
      - name: 资阳发布-微博
        type: weibo                 # rss | weibo | wechat | push | file
        url: https://m.weibo.cn/api/container/getIndex?containerid=107603XXXX
        interval: 5m                # seconds, or 30s / 5m / 1h
        cookie_env: WEIBO_COOKIE    # credentials come from the environment, by name

Errors name the file, line and path (`sources[2].interval`), all of them at once. Values of
credentials are never stored on these objects, only the variables' names.

Which accounts are a department's own is not said here: the city config's `official_accounts`
is the one place (a source is named there by its `name`). The fields that used to say it here, a
source's `department` and an `official_accounts` section, are rejected with where they moved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from monitor.config.loader import ConfigError, ConfigIssue, LineMap, format_path, read_yaml

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT = {None: 1.0, "ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
SOURCE_TYPES = ("rss", "weibo", "wechat", "push", "file")


def _seconds(value: Any) -> Any:
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m is None:
            raise ValueError(f"not a duration: {value!r} (use seconds, or 30s, 5m, 1h)")
        return float(m.group(1)) * _UNIT[m.group(2)]
    return value


Seconds = Annotated[float, BeforeValidator(_seconds), Field(gt=0)]
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceConfig(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=150)]
    url: Annotated[str, Field(min_length=1)]
    interval: Seconds = 300.0
    jitter: Annotated[float, Field(ge=0, lt=1)] = 0.1
    timeout: Seconds = 15.0
    max_bytes: Annotated[int, Field(gt=0)] = 5_000_000
    max_pages: Annotated[int, Field(gt=0, le=100)] = 5
    page_pause: Annotated[float, BeforeValidator(_seconds), Field(ge=0)] = 1.0
    backoff_initial: Seconds = 5.0
    backoff_max: Seconds = 900.0
    enabled: bool = True
    headers: dict[str, str] = {}
    cookie_env: EnvName | None = None
    headers_env: dict[str, EnvName] = {}  # header name → environment variable holding its value

    def credential_env(self) -> dict[str, str]:
        """Header name → environment variable name."""
        names = dict(self.headers_env)
        if self.cookie_env:
            names["Cookie"] = self.cookie_env
        return names


class RssConfig(SourceConfig):
    type: Literal["rss"]
    allow_invalid_xml: bool = False


class WeiboConfig(SourceConfig):
    type: Literal["weibo"]
    layout: Literal["mobile", "pc"] | None = None
    uid: str | None = None
    long_text: Literal["fetch", "keep"] = "fetch"
    extend_url: str | None = None
    long_text_limit: Annotated[int, Field(ge=0)] = 10  # extend calls per page
    long_text_pause: Annotated[float, BeforeValidator(_seconds), Field(ge=0)] = 1.0


class WechatConfig(SourceConfig):
    type: Literal["wechat"]
    format: Literal["api", "rss"] = "api"  # rss: a WeRSS/RSSHub bridge feed
    biz: str | None = None
    account: str | None = None
    params: dict[str, str] = {}
    token_env: EnvName | None = None  # passed as the `token` query parameter
    page_size: Annotated[int, Field(gt=0, le=20)] = 5
    freq_control_wait: Seconds = 1800.0
    allow_invalid_xml: bool = False


class PushConfig(SourceConfig):
    type: Literal["push"]
    url: str = "/push"  # the path the endpoint is mounted under; POST {url}/{name}
    secret_env: EnvName


class FileConfig(SourceConfig):
    type: Literal["file"]
    format: Literal["jsonl", "csv"] | None = None
    batch_size: Annotated[int, Field(gt=0)] = 500
    tz_offset_hours: float = 8.0


AnySource = Annotated[
    RssConfig | WeiboConfig | WechatConfig | PushConfig | FileConfig, Field(discriminator="type")
]


class SourcesFile(_Strict):
    sources: tuple[AnySource, ...]

    def enabled(self) -> list[SourceConfig]:
        return [s for s in self.sources if s.enabled]


def _issues(exc: ValidationError, data: Any, file: str, lines: LineMap) -> list[ConfigIssue]:
    issues = []
    for err in exc.errors():
        loc = list(err["loc"])
        # A discriminated union adds the tag ("rss") to the path; it is not in the file.
        if len(loc) > 2 and loc[0] == "sources" and loc[2] in SOURCE_TYPES:
            del loc[2]
        path = tuple(loc)
        reason = err["msg"]
        if err["type"] == "union_tag_invalid":
            reason = f"type must be one of {', '.join(SOURCE_TYPES)}"
            path = (*path, "type")
        issues.append(ConfigIssue(file, lines.line_of(path), format_path(path), reason))
    return issues


def _duplicates(data: Any, file: str, lines: LineMap) -> list[ConfigIssue]:
    """Duplicate names, read from the raw data so they are reported with the other errors."""
    entries = data.get("sources") if isinstance(data, dict) else None
    seen: set[str] = set()
    issues = []
    for i, src in enumerate(entries if isinstance(entries, list) else []):
        name = src.get("name") if isinstance(src, dict) else None
        if not isinstance(name, str):
            continue
        if name in seen:
            path = ("sources", i, "name")
            issues.append(
                ConfigIssue(
                    file, lines.line_of(path), format_path(path), f"duplicate source name {name!r}"
                )
            )
        seen.add(name)
    return issues


_MOVED = "official accounts are set in the city config's official_accounts"


def _city_entry(src: dict[str, Any]) -> str:
    """The city config's official_accounts entry that says what a source's `department` said."""
    department, name = src.get("department"), src.get("name", "<name>")
    if src.get("type") == "weibo":
        # on a timeline only the account's own statuses were marked: its uid
        where = f"weibo_uid: [{src.get('uid') or '<the account uid>'}]"
    elif src.get("type") == "push":
        where = f"push: [{name}]"
    else:
        where = f"feeds: [{name}]"
    return f"{{department: {department}, {where}}}"


def _moved(data: Any, file: str, lines: LineMap) -> tuple[Any, list[ConfigIssue]]:
    """The fields that moved to the city config, each reported where it stands, and the data
    without them (so they are not also reported as unknown fields)."""
    if not isinstance(data, dict):
        return data, []
    issues = []
    if "official_accounts" in data:
        path: tuple[str | int, ...] = ("official_accounts",)
        reason = f"{_MOVED}, where each department must be a body of the city — move it there"
        issues.append(ConfigIssue(file, lines.line_of(path), format_path(path), reason))
    entries = data.get("sources")
    kept = []
    for i, src in enumerate(entries if isinstance(entries, list) else []):
        if isinstance(src, dict) and "department" in src:
            path = ("sources", i, "department")
            reason = f"{_MOVED} ({_city_entry(src)}) — move it there"
            issues.append(ConfigIssue(file, lines.line_of(path), format_path(path), reason))
            src = {k: v for k, v in src.items() if k != "department"}
        kept.append(src)
    rest = {k: v for k, v in data.items() if k != "official_accounts"}
    if isinstance(entries, list):
        rest["sources"] = kept
    return rest, issues


def parse_sources(data: Any, lines: LineMap, file: str) -> SourcesFile:
    data, moved = _moved(data, file, lines)
    found = moved + _duplicates(data, file, lines)
    try:
        cfg = SourcesFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_in_file_order(found + _issues(exc, data, file, lines))) from exc
    if found:
        raise ConfigError(_in_file_order(found))
    return cfg


def _in_file_order(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    return sorted(issues, key=lambda i: i.line or 0)


def load_sources(path: str | Path) -> SourcesFile:
    """Read and validate a sources file; ConfigError lists every problem with its line."""
    data, lines = read_yaml(path)
    cfg = parse_sources(data, lines, str(path))
    # A history file named relative to the sources file lives beside it.
    base = Path(path).resolve().parent
    fixed = tuple(
        s.model_copy(update={"url": str(base / s.url)})
        if isinstance(s, FileConfig) and not Path(s.url).is_absolute()
        else s
        for s in cfg.sources
    )
    return cfg.model_copy(update={"sources": fixed})


class MissingCredential(Exception):
    """A source names an environment variable that is not set (the value is never shown)."""


def resolve_credentials(src: SourceConfig, env: Mapping[str, str]) -> dict[str, str]:
    """Headers for a source: its literal headers plus those read from the environment."""
    headers = dict(src.headers)
    for header, var in src.credential_env().items():
        value = env.get(var)
        if not value:
            raise MissingCredential(
                f"source {src.name!r}: environment variable {var} (for the {header} header) "
                "is not set"
            )
        headers[header] = value
    return headers


def env_value(src: SourceConfig, var: str | None, env: Mapping[str, str], what: str) -> str | None:
    if var is None:
        return None
    value = env.get(var)
    if not value:
        raise MissingCredential(
            f"source {src.name!r}: environment variable {var} ({what}) is not set"
        )
    return value
