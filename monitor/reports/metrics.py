"""Compliance as Prometheus metrics, for the Grafana dashboards 部门响应 and 领导驾驶舱.

A collector, not counters: every value is recomputed from the incident log by
monitor.domain.compliance (the figures of `monitor report` and the leaders' view) when Prometheus
scrapes, at most every `max_age_s`. Counters bumped by the worker would count an incident again
each time `monitor run` replays the archive at start, and could drift from the report.

Families (window: "30d" | "90d", the leaders' windows; body: a body of the city config, "全市"
for the whole city, or "其他" for a name the config does not list, so the label set is bounded
by the config, about 25 bodies):

    monitor_compliance_ratio{window, body, rule}        met / decided (absent when none decided)
    monitor_compliance_decided{window, body, rule}      clocks decided (met, late, breached,
                                                        not done)
    monitor_compliance_incidents{window, body, grade}   incidents counted
    monitor_compliance_breaches{window, body, grade}    breaches, by the incident's grade
    monitor_compliance_excluded{window, reason}         merged | out_of_area
    monitor_response_seconds{window, body, step}        histogram: first post → acknowledge,
                                                        release, press_conference
    monitor_open_incidents{grade}                       open in-area incidents now
    monitor_open_breached_incidents{grade}              of those, with a breach unanswered
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.domain import clocks
from monitor.domain.compliance import STEPS, Case, Period, counted, figures, seconds_to
from monitor.domain.events import Event
from monitor.domain.model import Grade
from monitor.domain.state import IncidentState
from monitor.reports.load import cases

WINDOWS = {"30d": 30, "90d": 90}
ALL = "全市"
OTHER = "其他"
H = 3600.0
# Edges at the rules' limits (5 h, 24 h, 48 h) so the share within each reads off a bucket.
BUCKETS = (0.5 * H, H, 2 * H, 3 * H, 4 * H, 5 * H, 8 * H, 12 * H, 24 * H, 48 * H, 72 * H)
MAX_AGE_S = 30.0

Source = Callable[[], tuple[Sequence[IncidentState], Mapping[str, Sequence[Event]]]]


class ComplianceMetrics(Collector):
    def __init__(
        self, source: Source, clock: Callable[[], datetime], bodies: Collection[str],
        max_age_s: float = MAX_AGE_S,
    ) -> None:  # fmt: skip
        self.source = source
        self.clock = clock
        self.bodies = frozenset(bodies)
        self.max_age_s = max_age_s
        self._lock = threading.Lock()
        self._cached: tuple[float, list[Metric]] | None = None

    def describe(self) -> Iterable[Metric]:
        return self._families()  # names and types, no samples: nothing is read

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            if self._cached is None or time.monotonic() - self._cached[0] > self.max_age_s:
                self._cached = (time.monotonic(), self._compute())
            return list(self._cached[1])

    def _label(self, body: str) -> str:
        return body if body in self.bodies else OTHER

    def _compute(self) -> list[Metric]:
        now = self.clock()
        states, breaches = self.source()
        every = cases(states, breaches, now)
        fams = self._families()
        ratio, decided, incidents, breached, excluded, response, live, live_breached = fams
        for window, days in WINDOWS.items():
            inside, ex = counted(every, Period(now - timedelta(days=days), now))
            excluded.add_metric([window, "merged"], ex.merged)
            excluded.add_metric([window, "out_of_area"], ex.out_of_area)
            for body, group in self._groups(inside):
                f = figures(group)
                for r in f.rates:
                    decided.add_metric([window, body, r.rule], r.decided)
                    if r.rate is not None:
                        ratio.add_metric([window, body, r.rule], r.rate)
                for g in Grade:
                    of_grade = [c for c in group if c.grade is g]
                    incidents.add_metric([window, body, g.value], len(of_grade))
                    breached.add_metric([window, body, g.value],
                                        sum(len(c.breaches) for c in of_grade))  # fmt: skip
                for step in STEPS:
                    _histogram(response, [window, body, step], seconds_to(group, step))
        open_now = [c for c in every if c.live and not c.out_of_area]
        for g in Grade:
            mine = [c for c in open_now if c.grade is g]
            live.add_metric([g.value], len(mine))
            live_breached.add_metric(
                [g.value],
                sum(1 for c in mine if any(f.status == clocks.BREACHED for f in c.clocks)),
            )
        return list(fams)

    def _groups(self, inside: Sequence[Case]) -> Iterator[tuple[str, list[Case]]]:
        yield ALL, list(inside)
        by_body: dict[str, list[Case]] = {}
        for c in inside:
            for body in {self._label(b) for b in c.bodies}:
                by_body.setdefault(body, []).append(c)
        yield from sorted(by_body.items())

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily,
                             GaugeMetricFamily, GaugeMetricFamily, HistogramMetricFamily,
                             GaugeMetricFamily, GaugeMetricFamily]:  # fmt: skip
        g = GaugeMetricFamily
        return (
            g("monitor_compliance_ratio", "Clocks met / decided, over the window",
              labels=["window", "body", "rule"]),
            g("monitor_compliance_decided", "Clocks decided (met, late, breached, not done)",
              labels=["window", "body", "rule"]),
            g("monitor_compliance_incidents", "Incidents counted (merged and out-of-area left out)",
              labels=["window", "body", "grade"]),
            g("monitor_compliance_breaches", "Deadline breaches, by the incident's grade",
              labels=["window", "body", "grade"]),
            g("monitor_compliance_excluded", "Incidents left out of the figures, and why",
              labels=["window", "reason"]),
            HistogramMetricFamily(
                "monitor_response_seconds", "From the first post to the first such answer",
                labels=["window", "body", "step"],
            ),
            g("monitor_open_incidents", "Open in-area incidents now", labels=["grade"]),
            g("monitor_open_breached_incidents", "Open in-area incidents with a clock breached "
              "and unanswered", labels=["grade"]),
        )  # fmt: skip


def _histogram(family: HistogramMetricFamily, labels: list[str], values: Sequence[float]) -> None:
    cumulative = [(_le(edge), sum(1 for v in values if v <= edge)) for edge in BUCKETS]
    cumulative.append(("+Inf", len(values)))
    family.add_metric(labels, cumulative, sum_value=sum(values))


def _le(edge: float) -> str:
    return f"{edge:g}"
