"""One compliance Report in three formats: JSON (the API's and `--format json`), CSV (one long
table for spreadsheets) and a self-contained HTML page in Simplified Chinese with inline SVG
charts (nothing is fetched when it is opened). Times shown are Beijing time; JSON keeps UTC
ISO-8601 and seconds."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import datetime
from html import escape
from typing import Any

import msgspec

from monitor.domain.compliance import Breach, Durations, Figures, Group, OpenCase, Rate, Report
from monitor.domain.model import GRADE_LABELS, Grade
from monitor.reports import svg
from monitor.runtime.views import DISPLAY_TZ

RATE_TITLES = {"release": "权威信息发布", "press_conference": "新闻发布会", "answer": "回应关切"}
DURATION_TITLES = {
    "acknowledge": "确认收到",
    "release": "首次发布",
    "press_conference": "新闻发布会",
}
DEFINITIONS = (
    "事件按首条帖文时间归入统计期；已并入他案的事件与辖区外事件不计入，另列其数。",
    "用时自首条帖文起算，至最早一次相应处置的时间；中位数取中间值（偶数个取中间两值之均值），"
    "P90 取最近秩（第 ⌈0.9·n⌉ 小的值）。",
    "按时率 = 按时完成 ÷ 已判定（按时完成 + 超时后完成 + 超时未完成 + 关闭时未完成）；"
    "计时中的不计入。",
    "部门统计其牵头或配合负责的事件；县区统计发生在该县区的事件。",
    "上期为紧接本期之前、长度相同的时段。所有数字均由事件日志（处置记录、时限事件）即时计算。",
)


def local(t: datetime) -> str:
    return t.astimezone(DISPLAY_TZ).strftime("%Y-%m-%d %H:%M")


def hm(seconds: float | None) -> str:
    """A duration in Chinese: 3小时05分; — when there is none."""
    if seconds is None:
        return "—"
    minutes = round(seconds / 60)
    h, m = divmod(minutes, 60)
    if h >= 48:
        d, h = divmod(h, 24)
        return f"{d}天{h}小时"
    return f"{h}小时{m:02d}分" if h else f"{m}分钟"


def pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.1f}%"


def rate_title(r: Rate) -> str:
    limit = f"{r.hours:g}小时内" if r.hours else ""
    return f"{limit}{RATE_TITLES.get(r.rule, r.label)}"


# --- JSON -------------------------------------------------------------------------------------


def _durations(d: Durations) -> dict[str, Any]:
    return {"count": d.count, "median_s": d.median_s, "p90_s": d.p90_s}


def _rate(r: Rate) -> dict[str, Any]:
    return msgspec.to_builtins(r) | {"decided": r.decided, "rate": r.rate, "title": rate_title(r)}


def _figures(f: Figures) -> dict[str, Any]:
    return {
        "incidents": f.incidents,
        "by_grade": f.by_grade,
        "acknowledge": _durations(f.acknowledge),
        "release": _durations(f.release),
        "press_conference": _durations(f.press_conference),
        "rates": {r.rule: _rate(r) for r in f.rates},
        "breaches": f.breaches,
    }


def _group(g: Group) -> dict[str, Any]:
    return {"name": g.name, "current": _figures(g.current), "previous": _figures(g.previous)}


def as_json(report: Report) -> dict[str, Any]:
    builtins = msgspec.to_builtins
    return {
        "period": builtins(report.period),
        "previous_period": builtins(report.previous_period),
        "now": report.now.isoformat(),
        "body": report.body,
        "total": _group(report.total),
        "departments": [_group(g) for g in report.departments],
        "counties": [_group(g) for g in report.counties],
        "breaches": builtins(report.breaches),
        "excluded": builtins(report.excluded),
        "previous_excluded": builtins(report.previous_excluded),
        "open_severe": builtins(report.open_severe),
        "definitions": list(DEFINITIONS),
    }


# --- CSV --------------------------------------------------------------------------------------

CSV_HEADER = ("类别", "名称", "指标代码", "指标", "本期", "上期")


def _metrics(f: Figures) -> Iterator[tuple[str, str, object]]:
    """(code, 中文, value) of one group's figures; durations in minutes, rates in percent."""
    yield "incidents", "事件数", f.incidents
    for g in Grade:
        yield f"grade_{g.value}", f"{g.value}级（{GRADE_LABELS[g]}）事件数", f.by_grade[g.value]
    for name, d in (("acknowledge", f.acknowledge), ("release", f.release),
                    ("press_conference", f.press_conference)):  # fmt: skip
        title = DURATION_TITLES[name]
        yield f"{name}_count", f"{title}事件数", d.count
        yield f"{name}_median_min", f"{title}用时中位数（分钟）", _minutes(d.median_s)
        yield f"{name}_p90_min", f"{title}用时P90（分钟）", _minutes(d.p90_s)
    for r in f.rates:
        yield f"{r.rule}_rate_pct", f"{rate_title(r)}按时率（%）", _percent(r.rate)
        yield f"{r.rule}_met", f"{rate_title(r)}按时完成数", r.met
        yield f"{r.rule}_decided", f"{rate_title(r)}已判定数", r.decided
        yield f"{r.rule}_pending", f"{rate_title(r)}计时中", r.pending
    yield "breaches", "超时次数", f.breaches


def _minutes(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds / 60:.1f}"


def _percent(rate: float | None) -> str:
    return "" if rate is None else f"{rate * 100:.1f}"


def as_csv(report: Report) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_HEADER)
    for kind, groups in (("合计", (report.total,)), ("部门", report.departments),
                         ("县区", report.counties)):  # fmt: skip
        for g in groups:
            now = list(_metrics(g.current))
            before = {code: v for code, _, v in _metrics(g.previous)}
            for code, label, value in now:
                w.writerow((kind, g.name, code, label, value, before[code]))
    for b in report.breaches:
        label = f"{b.label}超时（分钟）；截止 {local(b.deadline)}"
        w.writerow(("超时明细", b.incident_id, f"late_min:{b.rule}", label, _minutes(b.late_s), ""))
    w.writerow(("不计入", "已并入他案", "excluded_merged", "已并入他案事件数",
                report.excluded.merged, report.previous_excluded.merged))  # fmt: skip
    w.writerow(("不计入", "辖区外", "excluded_out_of_area", "辖区外事件数",
                report.excluded.out_of_area, report.previous_excluded.out_of_area))  # fmt: skip
    return out.getvalue()


# --- HTML -------------------------------------------------------------------------------------


def _delta(now: float | None, before: float | None, fmt: Callable[[float], str]) -> str:
    if now is None or before is None:
        return ""
    diff = now - before
    if abs(diff) < 1e-9:
        return '<span class="same">持平</span>'
    sign = "↑" if diff > 0 else "↓"
    return f'<span class="delta">{sign}{fmt(abs(diff))}</span>'


def _figure_cells(g: Group) -> str:
    cur, prev = g.current, g.previous
    cells = [f"<td>{cur.incidents}{_delta(cur.incidents, prev.incidents, lambda d: f'{d:g}')}</td>"]
    cells += [f"<td>{cur.by_grade[x.value]}</td>" for x in Grade]
    for name in ("acknowledge", "release", "press_conference"):
        d, p = getattr(cur, name), getattr(prev, name)
        cells.append(
            f"<td>{hm(d.median_s)}{_delta(d.median_s, p.median_s, hm)}"
            f"<br><small>P90 {hm(d.p90_s)}</small></td>"
        )
    for r in cur.rates:
        before = prev.rate(r.rule).rate
        cells.append(
            f'<td data-rule="{escape(r.rule)}">{pct(r.rate)}'
            f"{_delta(r.rate, before, lambda d: f'{d * 100:.1f}个百分点')}"
            f"<br><small>{r.met}/{r.decided}，计时中{r.pending}</small></td>"
        )
    cells.append(f"<td>{cur.breaches}</td>")
    return "".join(cells)


def _named(groups: tuple[Group, ...], rule: str) -> Rate:
    """A rate that knows its rule's label and limit: a group with no such clock does not."""
    rates = [f.rate(rule) for g in groups for f in (g.current, g.previous)]
    return next((r for r in rates if r.hours), rates[0])


def figures_table(title: str, groups: tuple[Group, ...], css: str) -> str:
    if not groups:
        return f'<h2>{escape(title)}</h2><p class="empty">本期无事件</p>'
    rates = [_named(groups, r.rule) for r in groups[0].current.rates]
    head = (
        "<tr><th>名称</th><th>事件数</th>"
        + "".join(f"<th>{x.value}级</th>" for x in Grade)
        + "".join(f"<th>{t}用时<br>中位数</th>" for t in DURATION_TITLES.values())
        + "".join(f"<th>{escape(rate_title(r))}<br>按时率</th>" for r in rates)
        + "<th>超时次数</th></tr>"
    )
    rows = "".join(
        f'<tr data-name="{escape(g.name)}"><th scope="row">{escape(g.name)}</th>'
        f"{_figure_cells(g)}</tr>"
        for g in groups
    )
    return _table(title, css, head, rows)


def _answered(b: Breach) -> str:
    if b.answered_at is not None:
        return local(b.answered_at)
    return "尚未完成" if b.open else "未完成（已关闭）"


def breaches_table(breaches: tuple[Breach, ...]) -> str:
    if not breaches:
        return '<h2>超时明细</h2><p class="empty">本期无超时</p>'
    rows = "".join(
        f"<tr><td>{escape(b.incident_id)}</td><td>{escape(b.title)}</td><td>{b.grade}级</td>"
        f"<td>{escape('、'.join(b.bodies) or '—')}</td><td>{escape(b.label)}</td>"
        f"<td>{local(b.deadline)}</td>"
        f"<td>{_answered(b)}</td>"
        f'<td class="late">{hm(b.late_s)}{"（仍在超时）" if b.open else ""}</td></tr>'
        for b in breaches
    )
    head = ("<tr><th>事件</th><th>标题</th><th>级别</th><th>责任单位</th><th>时限</th>"
            "<th>截止时间</th><th>完成时间</th><th>超时</th></tr>")  # fmt: skip
    return _table("超时明细", "breaches", head, rows)


def _table(title: str, css: str, head: str, rows: str) -> str:
    return (
        f'<h2>{escape(title)}</h2><table class="{css}"><thead>{head}</thead>'
        f"<tbody>{rows}</tbody></table>"
    )


def open_table(cases: tuple[OpenCase, ...], now: datetime) -> str:
    title = f"截至 {local(now)} 未关闭的 I、II 级事件"
    if not cases:
        return f'<h2>{escape(title)}</h2><p class="empty">无</p>'
    rows = "".join(
        f"<tr><td>{escape(c.id)}</td><td>{escape(c.title)}</td><td>{c.grade}级</td>"
        f"<td>{escape('、'.join(c.bodies) or '—')}</td><td>{local(c.first_seen)}</td>"
        f"<td>{local(c.next_deadline) if c.next_deadline else '—'}</td>"
        f'<td class="late">{escape("、".join(c.breached))}</td></tr>'
        for c in cases
    )
    head = ("<tr><th>事件</th><th>标题</th><th>级别</th><th>责任单位</th><th>首帖时间</th>"
            "<th>最近时限</th><th>已超时</th></tr>")  # fmt: skip
    return _table(title, "open-severe", head, rows)


def _charts(report: Report) -> str:
    groups = report.departments or (report.total,)
    parts = []
    for rule in ("release", "press_conference", "answer"):
        rows = [(g.name, g.current.rate(rule).rate, g.previous.rate(rule).rate) for g in groups]
        if any(v is not None for _, v, _ in rows):
            title = f"各部门{rate_title(_named(groups, rule))}按时率（本期/上期）"
            parts.append(svg.rate_bars(title, rows))
    rows_t = [(g.name, g.current.release.median_s, g.current.release.p90_s) for g in groups]
    if any(v is not None for _, v, _ in rows_t):
        parts.append(svg.duration_bars("各部门首次发布用时（中位数 / P90）", rows_t, hm))
    if report.counties:
        stack = [(g.name, g.current.by_grade) for g in report.counties]
        parts.append(svg.grade_stack("各县区事件数（按级别）", stack))
    return "".join(f'<div class="chart">{p}</div>' for p in parts)


CSS = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Zen Hei","Microsoft YaHei",sans-serif;
  margin:24px;color:#222}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-left:4px solid #b71c1c;padding-left:8px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:center}
thead th{background:#f3f3f3}tbody th{text-align:left;white-space:nowrap}small{color:#666}
.delta{color:#555;font-size:11px;margin-left:4px}.same{color:#999;font-size:11px;margin-left:4px}
.late{color:#b71c1c;font-weight:bold}.summary span{display:inline-block;margin-right:24px}
.chart{display:inline-block;vertical-align:top;margin:8px 16px 8px 0}.empty{color:#777}
ul.defs{font-size:12px;color:#555}
"""


def as_html(report: Report) -> str:
    t = report.total.current
    body = f"（{escape(report.body)}）" if report.body else ""
    period = f"{local(report.period.start)} 至 {local(report.period.end)}"
    prev = f"{local(report.previous_period.start)} 至 {local(report.previous_period.end)}"
    summary = "".join(
        f"<span>{escape(rate_title(r))}按时率：<b>{pct(r.rate)}</b>（{r.met}/{r.decided}）</span>"
        for r in t.rates
    )
    ex = report.excluded
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>舆情回应情况报告{body}</title>
<style>{CSS}</style></head><body>
<h1>舆情回应情况报告{body}</h1>
<p>统计期：{period}（北京时间）；对比上期：{prev}；生成时间：{local(report.now)}</p>
<p class="summary"><span>事件数：<b id="total-incidents">{t.incidents}</b></span>{summary}
<span>超时：<b>{t.breaches}</b> 次</span></p>
<p id="excluded">不计入：已并入他案 {ex.merged} 起，辖区外 {ex.out_of_area} 起。</p>
{_charts(report)}
{figures_table("合计", (report.total,), "total")}
{figures_table("分部门", report.departments, "departments")}
{figures_table("分县区", report.counties, "counties")}
{breaches_table(report.breaches)}
{open_table(report.open_severe, report.now)}
<h2>口径说明</h2><ul class="defs">{"".join(f"<li>{escape(d)}</li>" for d in DEFINITIONS)}</ul>
</body></html>
"""
