"""Small inline SVG charts for the HTML report: no script, no font or file fetched when the page
is opened. Every label is escaped."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from monitor.domain.model import Grade

LABEL_W = 170
BAR_W = 300
ROW_H = 26
COLOURS = {"I": "#b71c1c", "II": "#ef6c00", "III": "#f9a825", "IV": "#9e9e9e"}


def _frame(title: str, rows: int, body: str, width: int = LABEL_W + BAR_W + 90) -> str:
    height = 34 + rows * ROW_H + 10
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(title)}" font-size="12" font-family="sans-serif">'
        f'<text x="0" y="16" font-size="14" font-weight="bold">{escape(title)}</text>{body}</svg>'
    )


def _label(y: int, text: str) -> str:
    short = text if len(text) <= 12 else text[:11] + "…"
    return (
        f'<text x="{LABEL_W - 6}" y="{y + 15}" text-anchor="end">'
        f"<title>{escape(text)}</title>{escape(short)}</text>"
    )


def rate_bars(title: str, rows: Sequence[tuple[str, float | None, float | None]]) -> str:
    """Compliance per group: this period's bar, last period's as a thin bar under it."""
    parts = []
    for i, (name, now, before) in enumerate(rows):
        y = 30 + i * ROW_H
        parts.append(_label(y, name))
        if now is not None:
            w = round(BAR_W * now)
            colour = "#2e7d32" if now >= 0.9 else "#ef6c00" if now >= 0.6 else "#b71c1c"
            parts.append(
                f'<rect x="{LABEL_W}" y="{y + 3}" width="{w}" height="13" fill="{colour}"/>'
            )
            parts.append(f'<text x="{LABEL_W + w + 4}" y="{y + 14}">{now * 100:.0f}%</text>')
        else:
            parts.append(f'<text x="{LABEL_W + 4}" y="{y + 14}" fill="#888">无已判定时限</text>')
        if before is not None:
            parts.append(
                f'<rect x="{LABEL_W}" y="{y + 18}" width="{round(BAR_W * before)}" height="4" '
                f'fill="#90a4ae"><title>上期 {before * 100:.0f}%</title></rect>'
            )
    return _frame(title, len(rows), "".join(parts))


def duration_bars(
    title: str, rows: Sequence[tuple[str, float | None, float | None]],
    fmt: Callable[[float | None], str],
) -> str:  # fmt: skip
    """Median (solid) and p90 (outline) per group, on one scale."""
    top = max((v for _, m, p in rows for v in (m, p) if v is not None), default=1.0) or 1.0
    parts = []
    for i, (name, med, p90) in enumerate(rows):
        y = 30 + i * ROW_H
        parts.append(_label(y, name))
        if p90 is not None:
            parts.append(
                f'<rect x="{LABEL_W}" y="{y + 3}" width="{round(BAR_W * p90 / top)}" height="15" '
                f'fill="none" stroke="#1565c0"/>'
            )
        if med is not None:
            parts.append(
                f'<rect x="{LABEL_W}" y="{y + 3}" width="{round(BAR_W * med / top)}" height="15" '
                f'fill="#64b5f6"/>'
            )
            parts.append(f'<text x="{LABEL_W + BAR_W + 4}" y="{y + 14}">{fmt(med)}</text>')
    return _frame(title, len(rows), "".join(parts))


def grade_stack(title: str, rows: Sequence[tuple[str, dict[str, int]]]) -> str:
    """Incidents per group, stacked by grade I → IV, with a legend."""
    top = max((sum(c.values()) for _, c in rows), default=1) or 1
    parts = []
    for i, (name, counts) in enumerate(rows):
        y = 30 + i * ROW_H
        parts.append(_label(y, name))
        x = LABEL_W
        for g in Grade:
            n = counts.get(g.value, 0)
            if n:
                w = max(1, round(BAR_W * n / top))
                parts.append(
                    f'<rect x="{x}" y="{y + 3}" width="{w}" height="15" fill="{COLOURS[g.value]}">'
                    f"<title>{g.value}级 {n} 起</title></rect>"
                )
                x += w
        parts.append(f'<text x="{x + 4}" y="{y + 14}">{sum(counts.values())}</text>')
    y = 30 + len(rows) * ROW_H
    legend = "".join(
        f'<rect x="{LABEL_W + i * 60}" y="{y}" width="10" height="10" fill="{COLOURS[g.value]}"/>'
        f'<text x="{LABEL_W + i * 60 + 14}" y="{y + 9}">{g.value}级</text>'
        for i, g in enumerate(Grade)
    )
    return _frame(title, len(rows) + 1, "".join(parts) + legend)
