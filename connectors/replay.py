"""File replay: JSONL or CSV history into `posts.raw`, keeping each post's original event time.

Each line (or CSV row) is a Post: the same field names, `published_at` required, because a
replay without event times would put every post at "now" and break the clocks. Naive times are
read as Beijing time (`tz_offset_hours`). Ids without a type prefix get "file:". The checkpoint
is the byte offset of the next unread line, so an interrupted replay resumes where it stopped.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import msgspec

from connectors.base import Page, PollContext, Source, dead_letter
from connectors.sink import DeadLetter
from monitor.domain.model import MAX_TEXT_BYTES, Post

FORMATS = ("jsonl", "csv")
_JSON = msgspec.json.Decoder(dict[str, Any])


class RecordError(ValueError):
    """One line of a history file that is not a post."""


def normalise(record: Mapping[str, Any], *, tz: timezone, now: datetime, strict: bool) -> Post:
    """A decoded line or CSV row as a Post, or RecordError saying which field is wrong."""
    fields = {k: v for k, v in record.items() if v not in ("", None)}
    if "observed_at" not in fields:
        fields["observed_at"] = now
    try:
        post = msgspec.convert(fields, Post, strict=strict)
    except msgspec.ValidationError as exc:
        raise RecordError(str(exc)) from None
    if post.published_at is None:
        raise RecordError("published_at is missing: a replay must keep each post's event time")
    if not post.id.strip():
        raise RecordError("id is empty")
    if len(post.text.encode("utf-8")) > MAX_TEXT_BYTES:
        raise RecordError(f"text over {MAX_TEXT_BYTES:,} bytes")
    changes: dict[str, Any] = {}
    if post.published_at.tzinfo is None:
        changes["published_at"] = post.published_at.replace(tzinfo=tz)
    if post.observed_at is not None and post.observed_at.tzinfo is None:
        changes["observed_at"] = post.observed_at.replace(tzinfo=tz)
    if ":" not in post.id:
        changes["id"] = f"file:{post.id}"
    return msgspec.structs.replace(post, **changes) if changes else post


class FileSource(Source):
    """Reads a history file in batches; `more` until the end of the file."""

    type = "file"

    def __init__(
        self,
        name: str,
        path: str | Path,
        *,
        format: str | None = None,
        batch_size: int = 500,
        tz_offset_hours: float = 8.0,
    ) -> None:
        super().__init__(name)
        self.path = Path(path)
        self.url = str(self.path)
        self.format = format or self.path.suffix.lstrip(".").lower()
        if self.format == "json":
            self.format = "jsonl"
        if self.format not in FORMATS:
            raise ValueError(f"{self.path}: unknown replay format {self.format!r} (jsonl or csv)")
        self.batch_size = batch_size
        self.tz = timezone(timedelta(hours=tz_offset_hours))

    async def fetch(self, ctx: PollContext) -> Page:
        offset = int(ctx.state.get("offset") or 0)
        line_no = int(ctx.state.get("line") or 0)
        header = ctx.state.get("header")
        posts: list[Post] = []
        rejects: list[DeadLetter] = []
        with self.path.open("rb") as fh:
            fh.seek(offset)
            if self.format == "csv" and header is None:
                header = self._read_header(fh)
                line_no += 1
            for raw in iter(fh.readline, b""):
                line_no += 1
                self._one(raw, line_no, header, ctx.now, posts, rejects)
                if len(posts) + len(rejects) >= self.batch_size:
                    break
            offset = fh.tell()
            at_end = fh.read(1) == b""
        state = {"offset": offset, "line": line_no, "header": header}
        return Page(posts, state, more=not at_end, rejects=rejects)

    def _read_header(self, fh: io.BufferedReader) -> list[str]:
        first = fh.readline().decode("utf-8-sig")
        return next(csv.reader([first]), [])

    def _one(
        self,
        raw: bytes,
        line_no: int,
        header: list[str] | None,
        now: datetime,
        posts: list[Post],
        rejects: list[DeadLetter],
    ) -> None:
        if not raw.strip():
            return
        where = f"{self.path}:{line_no}"
        try:
            record = self._decode(raw, header)
            posts.append(normalise(record, tz=self.tz, now=now, strict=self.format == "jsonl"))
        except (RecordError, msgspec.DecodeError, UnicodeDecodeError, csv.Error) as exc:
            text = raw.decode("utf-8", "replace")
            rejects.append(dead_letter(self.name, f"bad_record: {exc}", text, now, where))

    def _decode(self, raw: bytes, header: list[str] | None) -> Mapping[str, Any]:
        if self.format == "jsonl":
            return _JSON.decode(raw)
        row = next(csv.reader([raw.decode("utf-8")]), [])
        names = header or []
        if len(row) != len(names):
            raise RecordError(f"{len(row)} columns where the header has {len(names)}")
        return dict(zip(names, row, strict=True))
