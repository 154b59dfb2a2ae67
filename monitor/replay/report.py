"""The replay report: one self-contained HTML page in Simplified Chinese.

Charts are inline SVG drawn here (heat over time; each clock's deadline against its answer),
the style is inline, and there is no script and no external reference, so the page opens
the same offline, from a mail attachment or a USB stick, years later. Times are Beijing time.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from html import escape
from pathlib import Path
from typing import Any

BEIJING = timezone(timedelta(hours=8))
STATUS_ZH = {"met": "按时", "late": "逾时完成", "breached": "超时未回应", "running": "进行中",
             "not_done": "关闭未回应", "excluded": "已合并（不计）"}  # fmt: skip
STATUS_COLOUR = {"met": "#2e7d32", "late": "#ef6c00", "breached": "#c62828",
                 "running": "#1565c0", "not_done": "#6d4c41", "excluded": "#9e9e9e"}  # fmt: skip
KIND_ZH = {"first_post": "首帖", "detected": "发现", "graded": "分级变化", "bodies": "责任单位",
           "notification": "通知（仅记录）", "unacknowledged": "未确认升级", "warning": "时限预警",
           "breach": "超时", "answer": "回应", "closed": "关闭", "merged": "合并",
           "split": "拆分"}  # fmt: skip
CLOCK_ZH = {"release": "权威信息发布", "press_conference": "新闻发布会",
            "follow_up": "持续发布", "answer": "回应关切"}  # fmt: skip
CSS = """
body{font-family:"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei",sans-serif;
margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:18px 0 6px}
table{border-collapse:collapse;margin:6px 0;font-size:13px}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f4f6f8}.muted{color:#777;font-size:12px}.summary td{font-size:14px}
.tag{display:inline-block;padding:0 6px;border-radius:3px;color:#fff;font-size:12px}
pre{background:#f7f7f7;padding:8px;white-space:pre-wrap;font-size:13px}
details{margin:4px 0 14px}svg{display:block;margin:6px 0}
"""


def _t(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def bj(s: str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return _t(s).astimezone(BEIJING).strftime(fmt) if s else "—"


def _duration(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days} 天 {hours} 小时"
    return f"{hours} 小时 {rest // 60} 分钟" if hours else f"{rest // 60} 分钟"


def _status(status: str) -> str:
    colour = STATUS_COLOUR.get(status, "#555")
    return f'<span class="tag" style="background:{colour}">{STATUS_ZH.get(status, status)}</span>'


# --- charts ----------------------------------------------------------------------------------


def heat_chart(incidents: list[dict[str, Any]], width: int = 1000, height: int = 180) -> str:
    """Posts per day over the whole replay, stacked by grade (SVG bars)."""
    days: dict[str, Counter[str]] = {}
    for inc in incidents:
        for hour, n in inc["heat"]:
            day = bj(hour, "%Y-%m-%d")
            days.setdefault(day, Counter())[inc["grade"]] += n
    if not days:
        return '<p class="muted">无事件帖子。</p>'
    first = datetime.strptime(min(days), "%Y-%m-%d")  # noqa: DTZ007 (a calendar day)
    last = datetime.strptime(max(days), "%Y-%m-%d")  # noqa: DTZ007
    span = (last - first).days + 1
    top = max(sum(c.values()) for c in days.values())
    left, bottom = 50, 24
    bw = (width - left - 10) / span
    colours = {"I": "#b71c1c", "II": "#e65100", "III": "#f9a825", "IV": "#90a4ae"}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="每日事件帖子数（热度）">']  # fmt: skip
    plot = height - bottom - 10
    for frac in (0, 0.5, 1):
        y = 10 + plot * (1 - frac)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" '
                     f'stroke="#eee"/><text x="{left - 6}" y="{y + 4:.1f}" font-size="11" '
                     f'text-anchor="end">{round(top * frac)}</text>')  # fmt: skip
    for i in range(span):
        day = (first + timedelta(days=i)).strftime("%Y-%m-%d")
        counts = days.get(day, Counter())
        y = 10 + plot
        for grade in ("IV", "III", "II", "I"):
            n = counts.get(grade, 0)
            if not n:
                continue
            h = plot * n / top
            y -= h
            parts.append(f'<rect x="{left + i * bw:.1f}" y="{y:.1f}" width="{max(bw - 1, 1):.1f}" '
                         f'height="{h:.1f}" fill="{colours[grade]}"><title>{day} {grade}级 '
                         f'{n} 条</title></rect>')  # fmt: skip
        if span <= 40 and (i % max(1, span // 10) == 0):
            parts.append(f'<text x="{left + i * bw:.1f}" y="{height - 6}" font-size="11">'
                         f'{day[5:]}</text>')  # fmt: skip
    legend = " ".join(f'<tspan fill="{c}">■</tspan>{g}级' for g, c in colours.items())
    parts.append(f'<text x="{width - 200}" y="14" font-size="12">{legend}</text></svg>')
    return "".join(parts)


def clock_chart(inc: dict[str, Any], width: int = 1000) -> str:
    """One row per clock rule: a bar over its cycles up to the last deadline, every breach as a
    red mark and every answer that stopped it as a green dot, so deadlines stand against
    answers."""
    rules: dict[str, list[dict[str, Any]]] = {}
    for v in inc["verdicts"]:
        rules.setdefault(v["clock"], []).append(v)
    if not rules:
        return '<p class="muted">无回应时限（辖区外或未分级）。</p>'
    times = [_t(v["cycle_start"]) for v in inc["verdicts"]]
    times += [_t(v["deadline"]) for v in inc["verdicts"]]
    times += [_t(e["at"]) for e in inc["events"] if e["kind"] in ("breach", "answer")]
    t0, t1 = min(times), max(times)
    total = max((t1 - t0).total_seconds(), 60.0)
    left, row_h = 170, 26
    height = 30 + row_h * len(rules)

    def x(t: datetime) -> float:
        return left + (width - left - 20) * (t - t0).total_seconds() / total

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="时限与回应">']  # fmt: skip
    for n, (rule, vs) in enumerate(rules.items()):
        y = 10 + n * row_h
        start = min(_t(v["cycle_start"]) for v in vs)
        last = max(vs, key=lambda v: v["deadline"])
        deadline = _t(last["deadline"])
        colour = STATUS_COLOUR.get(last["status"], "#555")
        name = CLOCK_ZH.get(rule, rule)
        parts.append(f'<text x="4" y="{y + 14}" font-size="12">{escape(name)}</text>'
                     f'<rect x="{x(start):.1f}" y="{y + 4}" '
                     f'width="{max(x(deadline) - x(start), 1):.1f}"'
                     f' height="12" fill="{colour}" opacity="0.35"><title>{escape(name)}，'
                     f'截止 {bj(last["deadline"])}（{STATUS_ZH.get(last["status"], "")}）</title>'
                     f'</rect><line x1="{x(deadline):.1f}" y1="{y}" x2="{x(deadline):.1f}" '
                     f'y2="{y + 20}" stroke="{colour}" stroke-width="2"/>')  # fmt: skip
        for e in inc["events"]:
            if e["kind"] == "breach" and e["clock"] == rule:
                bx = x(_t(e["at"]))
                parts.append(f'<line x1="{bx:.1f}" y1="{y + 2}" x2="{bx:.1f}" y2="{y + 18}" '
                             f'stroke="#c62828" stroke-width="1.5"><title>超时 {bj(e["at"])}'
                             f'</title></line>')  # fmt: skip
            if e["kind"] == "answer" and rule in (e["clock"] or "").split(","):
                ax = x(_t(e["at"]))
                parts.append(f'<circle cx="{ax:.1f}" cy="{y + 10}" r="5" fill="#2e7d32">'
                             f'<title>回应 {bj(e["at"])}</title></circle>')  # fmt: skip
    parts.append(f'<text x="{left}" y="{height - 4}" font-size="11">{bj(t0.isoformat())}</text>'
                 f'<text x="{width - 20}" y="{height - 4}" font-size="11" text-anchor="end">'
                 f'{bj(t1.isoformat())}</text></svg>')  # fmt: skip
    return "".join(parts)


# --- the page --------------------------------------------------------------------------------


def _verdict_table(inc: dict[str, Any]) -> str:
    rows = []
    for v in inc["verdicts"]:
        late = _duration(v["late_by_s"]) if v["late_by_s"] else "—"
        name = CLOCK_ZH.get(v["clock"], v["clock"])
        if v["clock"] == "follow_up":
            name += f"（第{v['cycle'] + 1}轮）"
        rows.append(f"<tr><td>{escape(name)}</td><td>{bj(v['deadline'])}</td>"
                    f"<td>{bj(v['answered_at'])}</td><td>{_status(v['status'])}</td>"
                    f"<td>{late}</td></tr>")  # fmt: skip
    return ("<table><tr><th>时限</th><th>截止</th><th>回应</th><th>结论</th><th>逾时</th></tr>"
            + "".join(rows) + "</table>")  # fmt: skip


def _event_table(inc: dict[str, Any]) -> str:
    rows = []
    for e in inc["events"]:
        detail = ""
        if e["kind"] == "bodies":
            detail = "、".join(e.get("bodies", []))
        elif e["kind"] == "graded":
            detail = f"{e.get('from')} → {e.get('to')}"
        elif e["kind"] == "notification":
            detail = f"{e.get('step')} · {e.get('channel')} → {'、'.join(e.get('to', []))}"
        elif e["kind"] == "answer":
            detail = f"{e.get('action')} · {e.get('by')}"
        elif e["kind"] == "first_post":
            detail = e.get("post_id", "")
        clock = CLOCK_ZH.get(e["clock"] or "", e["clock"] or "")
        rows.append(f"<tr><td>{bj(e['at'])}</td><td>{KIND_ZH.get(e['kind'], e['kind'])}</td>"
                    f"<td>{escape(clock)}</td><td>{escape(str(detail))}</td></tr>")  # fmt: skip
    return ("<table><tr><th>时间</th><th>事项</th><th>时限</th><th>内容</th></tr>"
            + "".join(rows) + "</table>")  # fmt: skip


def _summary(incidents: list[dict[str, Any]]) -> Counter[str]:
    c: Counter[str] = Counter()
    for inc in incidents:
        c["incidents"] += 1
        c[f"grade_{inc['grade']}"] += 1
        for v in inc["verdicts"]:
            c[f"status_{v['status']}"] += 1
        c["breach_events"] += sum(1 for e in inc["events"] if e["kind"] == "breach")
        c["notifications"] += sum(1 for e in inc["events"] if e["kind"] == "notification")
    return c


def render_html(
    incidents: list[dict[str, Any]], *, source: str, posts: int, answers: int, bad: int,
    start: str | None, end: str | None, whatif: str | None = None,
) -> str:  # fmt: skip
    s = _summary(incidents)
    grades = "，".join(f"{g} 级 {s[f'grade_{g}']} 个" for g in ("I", "II", "III", "IV"))
    verdicts = "，".join(
        f"{STATUS_ZH[k]} {s[f'status_{k}']}" for k in STATUS_ZH if s[f"status_{k}"]
    )
    head = (f"<tr><td>数据来源</td><td>{escape(source)}</td></tr>"
            f"<tr><td>事件时间范围</td><td>{bj(start)} — {bj(end)}（北京时间）</td></tr>"
            f"<tr><td>回放</td><td>帖子 {posts} 条，回应 {answers} 条，跳过 {bad} 行</td></tr>"
            f"<tr><td>事件</td><td>{s['incidents']} 个：{grades}</td></tr>"
            f"<tr><td>时限结论</td><td>{verdicts or '—'}</td></tr>"
            f"<tr><td>超时事件数</td><td>{s['breach_events']}</td></tr>"
            f"<tr><td>通知</td><td>{s['notifications']} 条（沙盒只记录，未发送）"
            "</td></tr>")  # fmt: skip
    body = [f"<h1>舆情回放报告</h1><table class='summary'>{head}</table>",
            "<p class='muted'>回放在隔离沙盒中按事件时间运行，使用与在线监测相同的处理代码；"
            "未连接在线系统，未发送任何通知。</p>"]  # fmt: skip
    if whatif:
        body.append(f"<h2>规则对比</h2><pre>{escape(whatif)}</pre>")
    body.append("<h2>热度（每日事件帖子数）</h2>" + heat_chart(incidents))
    body.append("<h2>事件一览</h2><table><tr><th>首帖</th><th>事件</th><th>等级</th>"
                "<th>责任单位</th><th>帖子</th><th>时限结论</th></tr>")  # fmt: skip
    for inc in incidents:
        counts = Counter(v["status"] for v in inc["verdicts"])
        marks = " ".join(_status(k) + (f"×{n}" if n > 1 else "") for k, n in counts.items())
        marks = marks or "—"
        first = (inc.get("first_post") or {}).get("at")
        body.append(f"<tr><td>{bj(first)}</td><td><a href='#{escape(inc['id'])}'>"
                    f"{escape(inc['title'])}</a></td><td>{inc['grade']}</td>"
                    f"<td>{escape('、'.join(inc['bodies']))}</td><td>{inc['posts']}</td>"
                    f"<td>{marks}</td></tr>")  # fmt: skip
    body.append("</table><h2>事件详情</h2>")
    # outside the jurisdiction: shown, not assigned, no clocks (DESIGN.md §2); the list above
    # names them, details would only make a month's page heavy
    outside = [i for i in incidents if i["in_jurisdiction"] is False]
    if outside:
        body.append(f"<p class='muted'>辖区外事件 {len(outside)} 个不运行时限，仅列于上表。</p>")
    for inc in incidents:
        if inc["in_jurisdiction"] is False:
            continue
        body.append(f"<h3 id='{escape(inc['id'])}'>{escape(inc['title'])} "
                    f"<span class='muted'>{escape(inc['id'])} · {inc['grade']} 级 · "
                    f"{escape(inc['place'] or '地点未识别')}</span></h3>")  # fmt: skip
        body.append(clock_chart(inc) + _verdict_table(inc))
        body.append(f"<details><summary>时间线（{len(inc['events'])} 项）</summary>"
                    f"{_event_table(inc)}</details>")  # fmt: skip
    return ("<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width'>"
            f"<title>舆情回放报告</title><style>{CSS}</style></head><body>"
            + "".join(body) + "</body></html>\n")  # fmt: skip


def write_report(path: Path, result: Any, *, source: str, bad: int, whatif: str | None) -> None:
    run = result.run
    firsts = [i["first_post"]["at"] for i in result.incidents if i.get("first_post")]
    start = min(firsts) if firsts else None
    end = run.end.astimezone(UTC).isoformat() if run.end else None
    page = render_html(result.incidents, source=source, posts=run.posts_in,
                       answers=run.answers_in, bad=bad, start=start, end=end,
                       whatif=whatif)  # fmt: skip
    path.write_text(page, encoding="utf-8")
