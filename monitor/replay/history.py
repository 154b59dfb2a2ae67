"""What a replay reads: a JSONL/CSV history file, or a data dir's archive for a time range.

    inputs, bad = read_history(path)                      # posts and answers, by arrival
    inputs, bad = read_archive(db_url, since, until)       # the archive, read only

Every input carries its `arrival`: when the monitor had (or would have had) it. That is the
replay's clock: a post is accepted at it, so its times are trusted only up to it plus the
configured skew, exactly as the live worker trusts them up to its wall clock. For a history
line it is `observed_at`, else `published_at` (a post) or `recorded_at`, else `at` (an
answer); for the archive it is when the monitor accepted the record. Inputs are replayed in
arrival order (the file's order among equal times). A line without `observed_at` arrives at
its own `published_at`, so there the guard cannot catch a source whose clock is wrong: keep the
collector's time in `observed_at` when the history has it.

A history line is a post (the `monitor post` fields, `published_at` required) or, with
`"type": "answer"`, an answer: `kind` (acknowledge, release, press_conference, follow_up,
close, regrade, merge, split), `by`, `at`, optional `recorded_at`, the evidence fields of
`monitor act` (`url`, `channel`, `place`, `grade`, `reason`, `target`, `post_ids`, `note`),
and which incident: `incident_id`, or `post_id` (the incident holding that post when the
answer is applied, which also finds it under other rules in a what-if). Naive times are
Beijing time. A bad line is reported as FILE:LINE: reason and the others replay.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import msgspec

from connectors.replay import RecordError, normalise
from monitor.domain.model import Post
from monitor.domain.state import Action, ActionKind

BEIJING = timezone(timedelta(hours=8))
ANSWER_TYPES = ("answer", "action")
_JSON = msgspec.json.Decoder(dict[str, Any])


@dataclass(frozen=True)
class PostIn:
    arrival: datetime
    post: Post
    where: str


@dataclass(frozen=True)
class AnswerIn:
    """`action.incident_id` is empty when the answer names its incident by `post_id`.
    `key`: the incident key the monitor knew it under (the archive's answers)."""

    arrival: datetime
    action: Action
    post_id: str | None
    where: str
    key: str | None = None


Input = PostIn | AnswerIn


@dataclass(frozen=True)
class BadLine:
    where: str  # FILE:LINE, or the archive row
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


class HistoryError(ValueError):
    """The input as a whole cannot be read (no such file, unknown format)."""


def file_id(ident: str) -> str:
    """A post id as connectors/replay.py gives it: without a type prefix, "file:"."""
    return ident if ":" in ident else f"file:{ident}"


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=BEIJING)


def _answer(record: Mapping[str, Any], strict: bool) -> tuple[datetime, Action, str | None]:
    fields = {k: v for k, v in record.items() if v not in ("", None) and k != "type"}
    post_id = fields.pop("post_id", None)
    recorded = fields.pop("recorded_at", None)
    fields.setdefault("incident_id", "")
    if "id" not in fields:  # the same line gives the same id: a replay stays idempotent
        digest = hashlib.sha1(json.dumps(record, sort_keys=True, default=str).encode())
        fields["id"] = f"answer-{digest.hexdigest()[:12]}"
    if isinstance(fields.get("post_ids"), str):  # CSV: space- or comma-separated
        fields["post_ids"] = [p for p in fields["post_ids"].replace(",", " ").split() if p]
    if isinstance(fields.get("post_ids"), list):
        fields["post_ids"] = [file_id(p) for p in fields["post_ids"]]
    if isinstance(post_id, str):
        post_id = file_id(post_id)
    try:
        action = msgspec.convert(fields, Action, strict=strict)
        at = msgspec.convert(recorded, datetime, strict=strict) if recorded else None
    except msgspec.ValidationError as exc:
        raise RecordError(f"answer: {exc}") from None
    if action.kind not in ActionKind.__members__.values():
        kinds = ", ".join(k.value for k in ActionKind)
        raise RecordError(f"answer: kind {action.kind!r} is not one of {kinds}")
    if not action.incident_id and not post_id:
        raise RecordError("answer: give incident_id or post_id (the incident it answers)")
    if post_id is not None and not isinstance(post_id, str):
        raise RecordError("answer: post_id must be a string")
    action = msgspec.structs.replace(action, at=_aware(action.at))
    return _aware(at or action.at), action, post_id


def parse_line(record: Mapping[str, Any], where: str, strict: bool) -> Input:
    """One decoded line or row as an input; RecordError says what is wrong."""
    if record.get("type") in ANSWER_TYPES:
        arrival, action, post_id = _answer(record, strict)
        return AnswerIn(arrival, action, post_id, where)
    if record.get("type") not in (None, "", "post"):
        raise RecordError(f"type {record.get('type')!r} is neither post nor answer")
    fields = {k: v for k, v in record.items() if k != "type"}
    # no wall clock anywhere: a post with no observed time was seen when it was published
    if fields.get("observed_at") in (None, "") and fields.get("published_at") not in (None, ""):
        fields["observed_at"] = fields["published_at"]
    if isinstance(fields.get("repost_of"), str):
        fields["repost_of"] = file_id(fields["repost_of"])
    post = normalise(fields, tz=BEIJING, now=datetime.min.replace(tzinfo=BEIJING), strict=strict)
    # forged evidence: only configured accounts make a post official (DESIGN.md §2)
    post = msgspec.structs.replace(post, official=False)
    seen = post.observed_at or post.published_at
    assert seen is not None  # normalise requires published_at
    return PostIn(seen, post, where)


def _lines(path: Path, fmt: str) -> Iterator[tuple[int, Mapping[str, Any] | Exception]]:
    with path.open("rb") as fh:
        if fmt == "jsonl":
            for n, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:
                    yield n, _JSON.decode(raw)
                except msgspec.DecodeError as exc:
                    yield n, exc
            return
        text = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")
        try:
            reader = csv.reader(text)
            header = next(reader, None)
            if header is None:
                return
            for row in reader:
                n = reader.line_num
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    yield n, RecordError(f"{len(row)} columns where the header has {len(header)}")
                    continue
                yield n, dict(zip(header, row, strict=True))
        except (csv.Error, UnicodeDecodeError) as exc:
            yield reader.line_num + 1, exc


def file_format(path: Path) -> str:
    fmt = path.suffix.lstrip(".").lower()
    fmt = "jsonl" if fmt in ("json", "jsonl", "ndjson") else fmt
    if fmt not in ("jsonl", "csv"):
        raise HistoryError(f"{path}: unknown history format {path.suffix!r} (.jsonl or .csv)")
    return fmt


def read_history(path: str | Path) -> tuple[list[Input], list[BadLine]]:
    p = Path(path)
    fmt = file_format(p)
    if not p.is_file():
        raise HistoryError(f"{p}: no such file")
    good: list[Input] = []
    bad: list[BadLine] = []
    for n, item in _lines(p, fmt):
        where = f"{p}:{n}"
        if isinstance(item, Exception):
            bad.append(BadLine(where, _reason(item)))
            continue
        try:
            good.append(parse_line(item, where, strict=fmt == "jsonl"))
        except (RecordError, msgspec.ValidationError, ValueError, TypeError) as exc:
            bad.append(BadLine(where, _reason(exc)))
    return by_arrival(good), bad


def _reason(exc: Exception) -> str:
    if isinstance(exc, msgspec.DecodeError):
        return f"not JSON: {exc}"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8: {exc}"
    return str(exc) or type(exc).__name__


def by_arrival(inputs: list[Input]) -> list[Input]:
    return sorted(inputs, key=lambda i: i.arrival)  # stable: file order among equal times


# --- the archive -----------------------------------------------------------------------------


def read_archive(
    db_url: str, since: datetime | None, until: datetime | None
) -> tuple[list[Input], list[BadLine]]:
    """The archive's posts and answers accepted in [since, until), read without writing:
    the incident agent's inputs with their own acceptance times, then any post or answer
    accepted but never processed (as `monitor run` replays them at start)."""
    import sqlalchemy as sa

    from monitor.store import schema
    from streams.records import ActionIn, Classified, action_request_decoder, input_decoder

    engine = sa.create_engine(_read_only(db_url))
    rows: list[tuple[int, str, str, str | None, str, str]] = []
    try:
        with engine.connect() as conn:
            t = schema.archive
            q = sa.select(t.c.seq, t.c.kind, t.c.id, t.c.key, t.c.body, t.c.accepted_at)
            rows = [tuple(r) for r in conn.execute(q.order_by(t.c.seq))]
    finally:
        engine.dispose()
    done = {ident for _, kind, ident, *_ in rows if kind == "input"}
    good: list[Input] = []
    bad: list[BadLine] = []
    for seq, kind, ident, _key, body, accepted in rows:
        where = f"archive seq {seq} ({kind} {ident})"
        try:
            if kind == "input":
                rec = input_decoder.decode(body)
                if isinstance(rec, Classified):
                    at = rec.accepted_at or datetime.fromisoformat(accepted)
                    good.append(PostIn(at, rec.post, where))
                elif isinstance(rec, ActionIn):
                    good.append(AnswerIn(rec.recorded_at, rec.action, None, where, rec.key))
            elif kind == "post" and f"post:{ident}" not in done:
                post = msgspec.json.decode(body, type=Post)
                good.append(PostIn(datetime.fromisoformat(accepted), post, where))
            elif kind == "action" and f"action:{ident}" not in done:
                req = action_request_decoder.decode(body)
                good.append(AnswerIn(req.recorded_at, req.action, None, where, req.key))
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            bad.append(BadLine(where, f"does not decode: {exc}"))
    chosen = [
        i for i in good
        if (since is None or i.arrival >= since) and (until is None or i.arrival < until)
    ]  # fmt: skip
    return by_arrival(chosen), bad


def _read_only(url: str) -> str:
    """A SQLite store opened read only: a replay never writes the live store. A store with no
    write-ahead log (the monitor stopped cleanly) is read as immutable, so not even SQLite's
    -wal/-shm companions are created beside it; a running monitor's already has them."""
    if not url.startswith("sqlite:///") or "?" in url:
        return url
    path = url.removeprefix("sqlite:///")
    mode = "mode=ro" if Path(f"{path}-wal").exists() else "immutable=1"
    return f"sqlite:///file:{path}?{mode}&uri=true"
