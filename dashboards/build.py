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

from grafana_foundation_sdk.builders import common, stat, timeseries
from grafana_foundation_sdk.builders.dashboard import Dashboard, Row, ThresholdsConfig
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import (
    BigValueColorMode,
    BigValueGraphMode,
    LegendDisplayMode,
    LegendPlacement,
    TooltipDisplayMode,
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

Panel = stat.Panel | timeseries.Panel


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


DASHBOARDS: tuple[Callable[[], Dashboard], ...] = (duty_overview, sources, notifications)


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
