"""The escalation tree alone decides who is told, tested as Alertmanager's route_test.go does:
a tree from inline YAML and a table of triggers → receivers.

main merged two ladders (roles fixed in monitor/domain/outbox.py, plus the YAML's), so a YAML
could add people but never remove one: a T-30min warning reached leader_in_charge although
the `warning` route does not list that role.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor.domain import escalation as esc
from monitor.domain.escalation import Step, Trigger
from monitor.domain.model import Grade
from monitor.notify.config import load_ladder

TREE = """
version: test
utc_offset: "+08:00"
quiet_hours: {start: "22:00", end: "07:30"}
channels:
  - {name: im, type: dryrun, url: "dryrun:"}
route:
  name: root
  roles: [duty_staff]
  routes:
    - name: watch-only
      match: {in_jurisdiction: false}
      roles: [duty_staff]
    - name: opened-major
      match: {steps: [opened, regraded], grades: [I, II]}
      roles: [duty_staff, department_contact, leader_in_charge]
    - name: opened
      match: {steps: [opened, regraded]}
      roles: [duty_staff, department_contact]
    - name: unacknowledged
      match: {steps: [unacknowledged]}
      roles: [duty_staff, department_head]
    - name: warning-1h
      match: {steps: [warning], warning_before_min: [60]}
      roles: [leader_in_charge]
      continue: true
    - name: warning
      match: {steps: [warning]}
      roles: [duty_staff, department_contact]
    - name: breach
      match: {steps: [breach]}
      roles: [duty_staff, main_leader, government_office]
    - name: delivery-problems
      match: {steps: [delivery_failed, uncertain]}
      roles: [duty_staff]
      quiet_hours: false
contacts:
  - {name: 值班室, role: duty_staff, reach: [{channel: im}]}
  - {name: 主要领导, role: main_leader, reach: [{channel: im}]}
  - {name: 政府办, role: government_office, reach: [{channel: im}]}
  - {name: 分管领导, role: leader_in_charge, reach: [{channel: im}]}
  - {name: 应急局联络人, role: department_contact, body: 市应急管理局, reach: [{channel: im}]}
  - {name: 应急局负责人, role: department_head, body: 市应急管理局, reach: [{channel: im}]}
"""

DAY = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Ziyang
NIGHT = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # 23:00 in Ziyang
MORNING = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)  # 07:30 the next day


@pytest.fixture(scope="module")
def ladder(tmp_path_factory: pytest.TempPathFactory) -> esc.Ladder:
    path: Path = tmp_path_factory.mktemp("tree") / "ladder.yaml"
    path.write_text(TREE, encoding="utf-8")
    return load_ladder(path).ladder


def trigger(step: Step, grade: Grade | None = Grade.II, **kw: object) -> Trigger:
    base: dict[str, object] = {"key": "k", "incident_id": "i", "step": step, "grade": grade,
                               "at": DAY, "bodies": ("市应急管理局",)}  # fmt: skip
    return Trigger(**(base | kw))  # type: ignore[arg-type]


def receivers(p: esc.Plan) -> set[str]:
    return {r.name for d in p.deliveries for r in d.recipients}


CASES = [
    # trigger                                                   routes              receivers
    (trigger(Step.OPENED, Grade.I), ["opened-major"], {"值班室", "应急局联络人", "分管领导"}),
    (trigger(Step.OPENED, Grade.IV), ["opened"], {"值班室", "应急局联络人"}),
    (trigger(Step.REGRADED, Grade.II), ["opened-major"], {"值班室", "应急局联络人", "分管领导"}),
    (trigger(Step.UNACKNOWLEDGED, Grade.III), ["unacknowledged"], {"值班室", "应急局负责人"}),
    (trigger(Step.WARNING, warning_before_min=120), ["warning"], {"值班室", "应急局联络人"}),
    (trigger(Step.WARNING, warning_before_min=60), ["warning-1h", "warning"],
     {"分管领导", "值班室", "应急局联络人"}),
    # main: T-30min reached leader_in_charge through the domain's own ladder
    (trigger(Step.WARNING, warning_before_min=30), ["warning"], {"值班室", "应急局联络人"}),
    (trigger(Step.BREACH, Grade.I), ["breach"], {"值班室", "主要领导", "政府办"}),
    (trigger(Step.DELIVERY_FAILED, None), ["delivery-problems"], {"值班室"}),
    # outside the jurisdiction: duty staff only, whatever the grade
    (trigger(Step.OPENED, Grade.I, in_jurisdiction=False, bodies=()), ["watch-only"], {"值班室"}),
]  # fmt: skip


@pytest.mark.parametrize(("trig", "routes", "names"), CASES)
def test_tree_routes_each_trigger_to_its_receivers(
    ladder: esc.Ladder, trig: Trigger, routes: list[str], names: set[str]
) -> None:
    p = esc.plan(ladder, trig)
    assert list(p.routes) == routes
    assert receivers(p) == names


def test_removing_a_role_from_the_yaml_removes_the_people(tmp_path: Path) -> None:
    path = tmp_path / "ladder.yaml"
    path.write_text(
        TREE.replace("roles: [duty_staff, department_contact, leader_in_charge]",
                     "roles: [duty_staff]"),
        encoding="utf-8",
    )  # fmt: skip
    p = esc.plan(load_ladder(path).ladder, trigger(Step.OPENED, Grade.I))
    assert receivers(p) == {"值班室"}


@pytest.mark.parametrize(
    ("grade", "step", "held"),
    [
        (Grade.III, Step.OPENED, {"应急局联络人"}),  # main: duty staff held too
        (Grade.IV, Step.WARNING, {"应急局联络人"}),
        (Grade.II, Step.OPENED, set()),  # I/II never held
        (Grade.I, Step.BREACH, set()),
        (None, Step.DELIVERY_FAILED, set()),  # the route waives quiet hours
    ],
)
def test_quiet_hours_never_hold_duty_staff_nor_grades_one_and_two(
    ladder: esc.Ladder, grade: Grade | None, step: Step, held: set[str]
) -> None:
    p = esc.plan(ladder, trigger(step, grade, at=NIGHT, warning_before_min=120))
    later = {r.name for d in p.deliveries if d.not_before > NIGHT for r in d.recipients}
    assert later == held
    assert all(d.not_before in (NIGHT, MORNING) for d in p.deliveries)
    if step is not Step.BREACH:
        now = {r.name for d in p.deliveries if d.not_before == NIGHT for r in d.recipients}
        assert "值班室" in now


def test_the_plan_is_pure_and_keys_are_stable(ladder: esc.Ladder) -> None:
    p = esc.plan(ladder, trigger(Step.OPENED, Grade.III, at=NIGHT))
    assert esc.plan(ladder, trigger(Step.OPENED, Grade.III, at=NIGHT)) == p
    assert sorted(d.key for d in p.deliveries) == ["k/im", "k/im/quiet"]
    assert max(d.not_before for d in p.deliveries) - NIGHT == timedelta(hours=8, minutes=30)
