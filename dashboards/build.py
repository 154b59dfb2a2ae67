"""Grafana dashboards as code (grafana-foundation-sdk). Writes dashboards/grafana/<uid>.json.

    .venv/bin/python -m dashboards.build           # regenerate the committed JSON
    .venv/bin/python -m dashboards.build --check   # exit 1 if the committed JSON is stale

Titles and panel texts are for duty staff, so they are in Simplified Chinese. Every dashboard
has a fixed uid so that links and provisioning survive a rebuild.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from grafana_foundation_sdk.builders import bargauge, common, stat, timeseries
from grafana_foundation_sdk.builders.dashboard import Dashboard, Row, ThresholdsConfig
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    BarGaugeDisplayMode,
    BigValueColorMode,
    BigValueGraphMode,
    LegendDisplayMode,
    LegendPlacement,
    TooltipDisplayMode,
    VizOrientation,
)
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMapping,
    ValueMappingResult,
)

OUT_DIR = Path(__file__).resolve().parent / "grafana"
# The provisioned Prometheus datasource has this uid (provisioning/datasources/prometheus.yml).
DATASOURCE = DataSourceRef(type_val="prometheus", uid="prometheus")
TAGS = ["舆情回应监测"]
RATE = "$__rate_interval"

Panel = stat.Panel | timeseries.Panel | bargauge.Panel


def query(expr: str, legend: str = "", ref: str = "A") -> Dataquery:
    q = Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    return q.legend_format(legend) if legend else q


def red_above(value: float) -> ThresholdsConfig:
    steps = [Threshold(value=None, color="green"), Threshold(value=value, color="red")]
    return ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps)


def number_panel(title: str) -> stat.Panel:
    """A stat panel showing the newest value, coloured by its thresholds."""
    return (
        stat.Panel().title(title).datasource(DATASOURCE)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]))
        .color_mode(BigValueColorMode.BACKGROUND).graph_mode(BigValueGraphMode.NONE)
    )  # fmt: skip


def single(title: str, expr: str, *, warn_at: float | None = None, unit: str = "none") -> Panel:
    """One number; red when it reaches `warn_at`."""
    panel = number_panel(title).with_target(query(expr)).unit(unit).height(5).span(6)
    return panel.thresholds(red_above(warn_at)) if warn_at is not None else panel


def trend(
    title: str, targets: Sequence[tuple[str, str]], *, unit: str = "none", span: int = 12
) -> Panel:
    """A time series of one or more (expr, legend) queries."""
    key = (
        common.VizLegendOptions().show_legend(True)
        .display_mode(LegendDisplayMode.LIST).placement(LegendPlacement.BOTTOM)
    )  # fmt: skip
    panel = (
        timeseries.Panel().title(title).datasource(DATASOURCE).unit(unit).height(8).span(span)
        .legend(key).tooltip(common.VizTooltipOptions().mode(TooltipDisplayMode.MULTI))
    )  # fmt: skip
    for i, (expr, legend) in enumerate(targets):
        panel = panel.with_target(query(expr, legend, ref=chr(ord("A") + i)))
    return panel.min(0)


def board(uid: str, title: str, description: str) -> Dashboard:
    return (
        Dashboard(title).uid(uid).description(description).tags(TAGS)
        .timezone("browser").refresh("30s").time("now-6h", "now").readonly()
    )  # fmt: skip


def duty_overview() -> Dashboard:
    events = 'sum(increase(monitor_events_total{{kind="{kind}"}}[24h]))'
    warned, breached = (
        events.format(kind="deadline_warning"),
        events.format(kind="deadline_breached"),
    )
    dead_day = "sum(increase(monitor_dead_letters_total[24h]))"
    p99 = "histogram_quantile(0.99, sum by (le) (rate(monitor_post_to_event_seconds_bucket[{r}])))"
    return (
        board("yuqing-duty", "舆情回应监测 · 值班总览", "在办事件、回应时限、处理速度与拒收记录")
        .with_row(Row("事件与时限"))
        .with_panel(single("在办事件", "sum(monitor_incidents_live)"))
        .with_panel(single("时限预警（24小时）", warned, warn_at=1))
        .with_panel(single("时限已超（24小时）", breached, warn_at=1))
        .with_panel(single("拒收记录（24小时）", dead_day, warn_at=1))
        .with_panel(trend(
            "事件动态（每分钟）",
            [(f"sum by (kind) (rate(monitor_events_total[{RATE}])) * 60", "{{kind}}")],
        ))
        .with_panel(trend(
            "通知意图（每分钟）",
            [(f"sum by (step) (rate(monitor_notifications_total[{RATE}])) * 60", "{{step}}")],
        ))
        .with_row(Row("处理"))
        .with_panel(trend(
            "帖子处理速率（条/秒）",
            [(f"sum(rate(monitor_posts_total[{RATE}]))", "读取"),
             (f"sum(rate(monitor_posts_ignored_total[{RATE}]))", "非事件")],
            unit="short",
        ))
        .with_panel(trend(
            "采集到事件延迟 p99（目标 ≤ 1 秒）", [(p99.format(r=RATE), "p99")], unit="s"
        ))
        .with_panel(trend(
            "拒收记录（dlq）",
            [(f"sum by (topic, reason) (increase(monitor_dead_letters_total[{RATE}]))",
              "{{topic}}：{{reason}}")],
        ))
        .with_panel(trend(
            "时钟水位落后（秒）", [("time() - monitor_watermark_seconds", "{{instance}}")], unit="s"
        ))
    )  # fmt: skip


def up_mapping() -> list[ValueMapping]:
    return [ValueMap(options={
        "1": ValueMappingResult(text="正常", color="green"),
        "0": ValueMappingResult(text="失败", color="red"),
    })]  # fmt: skip


def sources() -> Dashboard:
    buckets = f"rate(connector_poll_seconds_bucket[{RATE}])"
    poll_p95 = f"histogram_quantile(0.95, sum by (source, le) ({buckets}))"
    status = (
        number_panel("数据源状态").with_target(query("connector_up", "{{source}}"))
        .mappings(up_mapping()).height(6).span(12)
    )  # fmt: skip
    return (
        board("yuqing-sources", "舆情回应监测 · 数据源", "各数据源的采集健康、速率与错误")
        .with_panel(status)
        .with_panel(number_panel("距上次成功采集")
                    .with_target(query("time() - connector_last_success_timestamp_seconds",
                                       "{{source}}"))
                    .unit("s").thresholds(red_above(3 * 3600)).height(6).span(12))
        .with_panel(trend(
            "采集帖子（条/分钟）",
            [(f"sum by (source) (rate(connector_posts_total[{RATE}])) * 60", "{{source}}")],
        ))
        .with_panel(trend(
            "去重丢弃（条/分钟）",
            [(f"sum by (source) (rate(connector_duplicates_total[{RATE}])) * 60", "{{source}}")],
        ))
        .with_panel(trend(
            "采集错误",
            [(f"sum by (source, kind) (increase(connector_errors_total[{RATE}]))",
              "{{source}}：{{kind}}")],
        ))
        .with_panel(trend(
            "拒收记录",
            [(f"sum by (source, reason) (increase(connector_dead_letters_total[{RATE}]))",
              "{{source}}：{{reason}}")],
        ))
        .with_panel(trend(
            "采集次数（次/分钟）",
            [(f"sum by (source) (rate(connector_polls_total[{RATE}])) * 60", "{{source}}")],
        ))
        .with_panel(trend("单次采集耗时 p95", [(poll_p95, "{{source}}")], unit="s"))
    )  # fmt: skip


def notifications() -> Dashboard:
    def per_channel(metric: str) -> list[tuple[str, str]]:
        return [(f"sum by (channel) (increase({metric}[{RATE}]))", "{{channel}}")]

    day = "sum(increase({m}[24h]))"
    return (
        board("yuqing-notify", "舆情回应监测 · 通知", "通知送达、失败、重试与待发队列")
        .with_row(Row("最近24小时"))
        .with_panel(single("已送达", day.format(m="yuqing_notify_sent_total")))
        .with_panel(single("发送失败", day.format(m="yuqing_notify_failed_total"), warn_at=1))
        .with_panel(single(
            "无渠道可达的故障告警", day.format(m="yuqing_notify_alert_undeliverable_total"),
            warn_at=1,
        ))
        .with_panel(single(
            "中断未确认送达", day.format(m="yuqing_notify_uncertain_total"), warn_at=1
        ))
        .with_row(Row("趋势"))
        .with_panel(trend("送达", per_channel("yuqing_notify_sent_total")))
        .with_panel(trend("发送失败", per_channel("yuqing_notify_failed_total")))
        .with_panel(trend("重试", per_channel("yuqing_notify_retries_total")))
        .with_panel(trend(
            "请求结果",
            [(f"sum by (channel, outcome) (increase(yuqing_notify_requests_total[{RATE}]))",
              "{{channel}}：{{outcome}}")],
        ))
        .with_panel(trend("待发队列", [("sum by (status) (yuqing_notify_outbox)", "{{status}}")]))
        .with_panel(trend(
            "限流与合并",
            [(f"sum by (channel) (increase(yuqing_notify_rate_limited_total[{RATE}]))",
              "限流 {{channel}}"),
             (f"sum by (channel) (increase(yuqing_notify_coalesced_total[{RATE}]))",
              "合并 {{channel}}")],
        ))
        .with_panel(trend(
            "无联系人的角色",
            [(f"sum by (role) (increase(yuqing_notify_unreachable_total[{RATE}]))", "{{role}}")],
        ))
        .with_panel(trend(
            "拒收的通知记录",
            [(f"sum by (source) (increase(yuqing_notify_bad_input_total[{RATE}]))",
              "{{source}}")],
        ))
    )  # fmt: skip


# --- leaders: compliance from the incident log (monitor/reports/metrics.py) -------------------

RULE_TITLES = {"release": "5小时内权威信息发布", "press_conference": "24小时内新闻发布会",
               "answer": "48小时内回应关切（III、IV级）"}  # fmt: skip
WHOLE_CITY = "全市"  # monitor.reports.metrics.ALL


def compliance(window: str, rule: str, body: str = WHOLE_CITY) -> str:
    return f'monitor_compliance_ratio{{window="{window}", rule="{rule}", body="{body}"}}'


def per_body(metric: str, matchers: str) -> str:
    return f'{metric}{{{matchers}, body!="{WHOLE_CITY}"}}'


def breaches_by_body(window: str) -> str:
    selector = per_body("monitor_compliance_breaches", f'window="{window}"')
    return f"sum by (body) ({selector})"


def rate_colours() -> ThresholdsConfig:
    """Red below 60 %, orange below 90 %, green from 90 %."""
    steps = [Threshold(value=None, color="red"), Threshold(value=0.6, color="orange"),
             Threshold(value=0.9, color="green")]  # fmt: skip
    return ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps)


def bars(title: str, expr: str, legend: str, *, unit: str = "none", span: int = 8,
         thresholds: ThresholdsConfig | None = None) -> Panel:  # fmt: skip
    """One bar per series (a department, a grade), its value now."""
    panel = (
        bargauge.Panel().title(title).datasource(DATASOURCE)
        .with_target(query(expr, legend).instant())
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]))
        .orientation(VizOrientation.HORIZONTAL).display_mode(BarGaugeDisplayMode.BASIC)
        .unit(unit).min(0).height(9).span(span)
    )  # fmt: skip
    if unit == "percentunit":
        panel = panel.max(1)
    return panel.thresholds(thresholds) if thresholds is not None else panel


def quantile(q: float, step: str, window: str = "30d") -> str:
    buckets = per_body("monitor_response_seconds_bucket", f'window="{window}", step="{step}"')
    return f"histogram_quantile({q}, sum by (body, le) ({buckets}))"


def department_response() -> Dashboard:
    def rate(rule: str) -> Panel:
        expr = per_body("monitor_compliance_ratio", f'window="30d", rule="{rule}"')
        return bars(f"{RULE_TITLES[rule]}按时率（近30天）", expr, "{{body}}",
                    unit="percentunit", thresholds=rate_colours())  # fmt: skip

    def spread(step: str, label: str) -> Panel:
        expr = (f'sum by (le) (monitor_response_seconds_bucket{{window="30d", step="{step}", '
                f'body="{WHOLE_CITY}"}})')  # fmt: skip
        return bars(f"全市{label}用时分布（近30天，累计起数）", expr, "≤ {{le}} 秒", span=12)

    return (
        board("yuqing-departments", "舆情回应监测 · 部门响应",
              "各部门回应按时率与发布、发布会用时分布（由事件日志计算，与 monitor report 一致）")
        .time("now-30d", "now")
        .with_row(Row("按时率（分部门）"))
        .with_panel(rate("release"))
        .with_panel(rate("press_conference"))
        .with_panel(rate("answer"))
        .with_row(Row("用时（分部门，近30天）"))
        .with_panel(bars("首次发布用时中位数", quantile(0.5, "release"), "{{body}}", unit="s",
                         span=6))
        .with_panel(bars("首次发布用时 P90", quantile(0.9, "release"), "{{body}}", unit="s",
                         span=6))
        .with_panel(bars("新闻发布会用时中位数", quantile(0.5, "press_conference"), "{{body}}",
                         unit="s", span=6))
        .with_panel(bars("新闻发布会用时 P90", quantile(0.9, "press_conference"), "{{body}}",
                         unit="s", span=6))
        .with_row(Row("分布与趋势"))
        .with_panel(spread("release", "首次发布"))
        .with_panel(spread("press_conference", "新闻发布会"))
        .with_panel(trend(
            "各部门5小时内发布按时率（近30天滚动）",
            [(per_body("monitor_compliance_ratio", 'window="30d", rule="release"'), "{{body}}")],
            unit="percentunit", span=24,
        ))
    )  # fmt: skip


def leadership() -> Dashboard:
    def city_trend(window: str, days: str) -> Panel:
        targets = [(compliance(window, r), t) for r, t in RULE_TITLES.items()]
        return trend(f"全市按时率趋势（近{days}天滚动）", targets, unit="percentunit")

    open_severe = 'sum(monitor_open_incidents{grade=~"I|II"})'
    breached = 'sum(monitor_open_breached_incidents{grade=~"I|II"})'
    return (
        board("yuqing-leaders", "舆情回应监测 · 领导驾驶舱",
              "近30天、近90天回应按时率，分部门超时，未关闭的 I、II 级事件")
        .time("now-90d", "now")
        .with_row(Row("当前"))
        .with_panel(single("未关闭的 I、II 级事件", open_severe, warn_at=1))
        .with_panel(single("其中已超时未完成", breached, warn_at=1))
        .with_panel(single("近30天 5小时发布按时率", compliance("30d", "release"),
                           unit="percentunit").thresholds(rate_colours()))
        .with_panel(single("近90天 5小时发布按时率", compliance("90d", "release"),
                           unit="percentunit").thresholds(rate_colours()))
        .with_row(Row("按时率趋势"))
        .with_panel(city_trend("30d", "30"))
        .with_panel(city_trend("90d", "90"))
        .with_row(Row("超时"))
        .with_panel(bars("近30天超时次数（分部门）",
                         breaches_by_body("30d"),
                         "{{body}}", thresholds=red_above(1)))
        .with_panel(bars("近90天超时次数（分部门）",
                         breaches_by_body("90d"),
                         "{{body}}", thresholds=red_above(1)))
        .with_panel(bars("近90天超时次数（按事件级别）",
                         f'sum by (grade) (monitor_compliance_breaches{{window="90d", '
                         f'body="{WHOLE_CITY}"}})', "{{grade}}级", thresholds=red_above(1)))
        .with_panel(trend(
            "未关闭的 I、II 级事件",
            [('sum by (grade) (monitor_open_incidents{grade=~"I|II"})', "{{grade}}级"),
             ('sum by (grade) (monitor_open_breached_incidents{grade=~"I|II"})',
              "{{grade}}级 已超时")],
            span=24,
        ))
    )  # fmt: skip


DASHBOARDS: tuple[Callable[[], Dashboard], ...] = (
    duty_overview,
    sources,
    notifications,
    department_response,
    leadership,
)


def render(dashboard: Dashboard) -> str:
    model = dashboard.build()
    # Grafana keys panel state (links, edits) by id; number them in order so ids are stable.
    for number, panel in enumerate(model.panels or [], start=1):
        panel.id_val = number
    text = json.dumps(model, cls=JSONEncoder, indent=2, ensure_ascii=False, sort_keys=True)
    return text + "\n"


def rendered() -> dict[str, str]:
    """File name → JSON text, for every dashboard."""
    out: dict[str, str] = {}
    for make in DASHBOARDS:
        dashboard = make()
        out[f"{dashboard.build().uid}.json"] = render(dashboard)
    return out


def stale(out_dir: Path) -> list[str]:
    """Files under `out_dir` that differ from what the code renders (or are missing/extra)."""
    want = rendered()
    have = {p.name for p in out_dir.glob("*.json")}
    bad = [name for name, text in want.items() if not _same(out_dir / name, text)]
    return sorted(bad + [name for name in have - want.keys()])


def _same(path: Path, text: str) -> bool:
    return path.is_file() and path.read_text(encoding="utf-8") == text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args(argv)
    if args.check:
        bad = stale(args.out)
        for name in bad:
            print(f"stale: {args.out / name} (run: python -m dashboards.build)", file=sys.stderr)
        return 1 if bad else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in rendered().items():
        (args.out / name).write_text(text, encoding="utf-8")
        print(args.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
