"""A month of incidents built through the incident domain's own calls, in event-time order as
the worker applies them, and written to a store as the worker's sink writes them (states,
events, and the audit rows of the answers). The timings are plain data (`SPECS`), so a test can
work the expected figures out by hand from them.

Two months: September (the previous period: H) and October 2026 (A–G, J), Beijing time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from monitor.domain import clocks
from monitor.domain.actions import apply_action, merge
from monitor.domain.events import Event
from monitor.domain.incidents import assign, open_incident
from monitor.domain.model import Casualties, Classification, Grade, Location, Post, Responsible
from monitor.domain.policy import IncidentParams
from monitor.domain.state import Action, IncidentState
from monitor.store import Store

CST = timezone(timedelta(hours=8))
PARAMS = IncidentParams()


def _loc(county: str | None, inside: bool = True) -> Location:
    if not inside:
        return Location(in_jurisdiction=False, province="四川省", city="成都市", county="武侯区")
    return Location(in_jurisdiction=True, city="资阳市", city_code="5120", county=county)


@dataclass(frozen=True)
class Spec:
    """One incident: when its first post came (`start`, an offset from the fixture's t0 in
    hours), and its answers as (kind, hours after its first post)."""

    name: str
    text: str
    category: str
    grade: Grade
    county: str | None
    lead: str
    co: tuple[str, ...]
    start: float
    acts: tuple[tuple[str, float], ...] = ()
    close: float | None = None
    merge_into: tuple[str, float] | None = None  # (incident name, hours after this one's start)
    inside: bool = True
    extra: dict[str, str] = field(default_factory=dict)


DAY = 24.0
FIRE_BODIES = ("市消防救援支队", ("安岳县人民政府",))

# t0 = 2026-09-01 00:00 Beijing time; October starts at 30 days.
OCT = 30 * DAY
SPECS = (
    Spec(name="H", text="安岳县岳阳镇一仓库突发火灾，已造成多人死亡", category="fire",
         grade=Grade.II, county="安岳县", lead=FIRE_BODIES[0], co=FIRE_BODIES[1],
         start=9 * DAY + 8, acts=(("acknowledge", 0.25), ("release", 2), ("press_conference", 10)),
         close=30),
    Spec(name="A", text="安岳县岳阳镇一家具厂突发火灾，浓烟滚滚，多人被困", category="fire",
         grade=Grade.II, county="安岳县", lead=FIRE_BODIES[0], co=FIRE_BODIES[1],
         start=OCT + 4 * DAY + 8,
         acts=(("acknowledge", 20 / 60), ("release", 3), ("press_conference", 20)), close=30),
    Spec(name="F", text="安岳县岳阳镇家具厂附近冒出黑烟，有居民拍到消防车", category="fire",
         grade=Grade.IV, county="安岳县", lead=FIRE_BODIES[0], co=FIRE_BODIES[1],
         start=OCT + 4 * DAY + 9, merge_into=("A", 28)),
    Spec(name="B", text="雁江区一化工厂发生爆炸，造成多人死亡", category="work_safety",
         grade=Grade.I, county="雁江区", lead="市应急管理局", co=("雁江区人民政府",),
         start=OCT + 9 * DAY + 9,
         acts=(("acknowledge", 50 / 60), ("release", 6), ("press_conference", 29)), close=40),
    Spec(name="C", text="安岳县境内高速公路发生多车相撞事故，死伤多人", category="traffic_accident",
         grade=Grade.II, county="安岳县", lead="市公安局交通警察支队", co=("安岳县人民政府",),
         start=OCT + 14 * DAY + 14,
         acts=(("acknowledge", 10 / 60), ("press_conference", 23)), close=26),
    Spec(name="D", text="雁江区一工业园区附近河道出现异味，居民投诉排污", category="environment",
         grade=Grade.IV, county="雁江区", lead="雁江区人民政府", co=("市生态环境局",),
         start=OCT + 19 * DAY + 10, acts=(("acknowledge", 2), ("release", 30))),
    Spec(name="E", text="乐至县某小区保障房出现墙体开裂，住户担心房屋安全", category="housing",
         grade=Grade.III, county="乐至县", lead="乐至县人民政府", co=("市住房和城乡建设局",),
         start=OCT + 21 * DAY + 10, close=60),
    Spec(name="G", text="成都市武侯区一商场发生火灾", category="fire", grade=Grade.III,
         county="武侯区", lead="", co=(), start=OCT + 22 * DAY, inside=False),
    Spec(name="J", text="乐至县多名群众出现发热症状，疑似传染病聚集", category="public_health",
         grade=Grade.II, county="乐至县", lead="市卫生健康委员会", co=("乐至县人民政府",),
         start=OCT + 27 * DAY + 8, acts=(("acknowledge", 1), ("release", 4))),
)  # fmt: skip
END = OCT + 27 * DAY + 20  # the worker's watermark when the store was written: J + 12 h


@dataclass
class Built:
    t0: datetime
    ids: dict[str, str]  # spec name → incident id
    states: dict[str, IncidentState]
    events: list[Event]
    actions: list[Action]

    def at(self, hours: float) -> datetime:
        return self.t0 + timedelta(hours=hours)


T0 = datetime(2026, 9, 1, tzinfo=CST)


def build(t0: datetime = T0, until: float = END) -> Built:
    """Run every spec through the domain in event-time order; clocks fire as the watermark
    passes them, as a worker's ticks would make them, up to `until` (hours after t0)."""
    steps: list[tuple[float, int, str, str]] = []  # (hours, order, spec, op)
    for s in SPECS:
        steps.append((s.start, 0, s.name, "open"))
        steps += [(s.start + h, 1, s.name, f"act:{k}") for k, h in s.acts]
        if s.merge_into:
            steps.append((s.start + s.merge_into[1], 1, s.name, "merge"))
        if s.close is not None:
            steps.append((s.start + s.close, 2, s.name, "close"))
    specs = {s.name: s for s in SPECS}
    built = Built(t0=t0, ids={}, states={}, events=[], actions=[])
    by_id: dict[str, str] = {}
    for hours, _, name, op in sorted(steps):
        now = built.at(hours)
        _tick(built, now)
        spec = specs[name]
        if op == "open":
            _open(built, spec, now)
            by_id[built.ids[name]] = name
        elif op == "merge":
            assert spec.merge_into is not None
            target = spec.merge_into[0]
            a = _action(built, name, "merge", now, target=built.ids[target], reason="同一事件")
            src, dst = merge(built.states[name], built.states[target], a, now)
            for n, out in ((name, src), (target, dst)):
                built.states[n] = out.state
                built.events += out.events
        else:
            kind = op.split(":", 1)[1] if ":" in op else op
            extra: dict[str, str] = {}
            if kind in ("release", "follow_up"):
                extra = {"url": f"https://www.ziyang.gov.cn/xxgk/{name}-{kind}.html",
                         "channel": "政府网站"}  # fmt: skip
            elif kind == "press_conference":
                extra = {"place": "市政府新闻发布厅"}
            elif kind == "close":
                extra = {"reason": "处置完毕"}
            a = _action(built, name, kind, now, **extra)
            out = apply_action(built.states[name], a, now)
            built.states[name] = out.state
            built.events += out.events
    _tick(built, built.at(until))
    return built


def _tick(built: Built, now: datetime) -> None:
    for name, state in built.states.items():
        out = clocks.evaluate(state, now)
        built.states[name] = out.state
        built.events += out.events


def _open(built: Built, s: Spec, now: datetime) -> None:
    pid = f"post-{s.name}"
    post = Post(id=pid, text=s.text, published_at=now, observed_at=now,
                url=f"https://weibo.example/{pid}")  # fmt: skip
    cls = Classification(
        post_id=pid, is_incident=True, category=s.category, confidence=0.9, keywords=(),
        casualties=Casualties(), location=_loc(s.county, s.inside), grade=s.grade,
        grade_basis=f"测试 {s.grade.value}级",
        responsible=Responsible(level="city" if s.lead.startswith("市") else "county",
                                lead=s.lead or None, co=s.co) if s.inside else Responsible(),
    )  # fmt: skip
    decision = assign([], post, cls, PARAMS, "5120")
    out = open_incident(post, cls, PARAMS, decision)
    built.ids[s.name] = out.state.id
    built.states[s.name] = out.state
    built.events += out.events


def _action(built: Built, name: str, kind: str, now: datetime, **kw: str) -> Action:
    a = Action(id=f"{name}-{kind}", incident_id=built.ids[name], kind=kind,
               by="值班室 测试", at=now, **kw)  # type: ignore[arg-type]  # fmt: skip
    built.actions.append(a)
    return a


def write(store: Store, built: Built) -> None:
    """As the worker's sink and the action path write them."""
    store.save_states(built.states.values())
    store.record_events(built.events)
    for a in built.actions:
        detail = {"id": a.id, "url": a.url, "at": a.at.isoformat(), "place": a.place,
                  "reason": a.reason, "target": a.target, "source": "fixture",
                  "recorded_at": a.at.isoformat(), "backdated": False}  # fmt: skip
        store.audit(a.by, f"act:{a.kind}", a.incident_id, detail, now=a.at)
