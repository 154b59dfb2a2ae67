"""The ladder as pure routing: a table of triggers and who they reach (route_test.go style)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from monitor.domain import escalation as esc
from monitor.domain.escalation import Role, Step, Trigger
from monitor.domain.model import Grade
from monitor.notify.config import load_ladder

LADDER = load_ladder().ladder
AT = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Ziyang
BODIES = ("市应急管理局", "雁江区人民政府")


def trig(step: Step, grade: Grade | None = Grade.II, **kw: object) -> Trigger:
    base: dict[str, object] = {"key": "k", "incident_id": "i", "step": step, "grade": grade,
                               "at": AT, "bodies": BODIES}  # fmt: skip
    base.update(kw)
    return Trigger(**base)  # type: ignore[arg-type]


def roles_of(p: esc.Plan) -> set[Role]:
    return {r.role for d in p.deliveries for r in d.recipients}


CASES = [
    # step, grade, warning_before_min, expected routes, expected roles
    (Step.OPENED, Grade.II, None, ["opened-major"],
     {Role.DUTY_STAFF, Role.DEPARTMENT_CONTACT, Role.LEADER_IN_CHARGE}),
    (Step.OPENED, Grade.IV, None, ["opened"], {Role.DUTY_STAFF, Role.DEPARTMENT_CONTACT}),
    (Step.UNACKNOWLEDGED, Grade.III, None, ["unacknowledged"],
     {Role.DUTY_STAFF, Role.DEPARTMENT_HEAD}),
    (Step.WARNING, Grade.II, 120, ["warning"], {Role.DUTY_STAFF, Role.DEPARTMENT_CONTACT}),
    (Step.WARNING, Grade.II, 60, ["warning-1h", "warning"],
     {Role.LEADER_IN_CHARGE, Role.DUTY_STAFF, Role.DEPARTMENT_CONTACT}),
    (Step.BREACH, Grade.I, None, ["breach"],
     {Role.DUTY_STAFF, Role.MAIN_LEADER, Role.GOVERNMENT_OFFICE}),
    (Step.DELIVERY_FAILED, None, None, ["delivery-problems"], {Role.DUTY_STAFF}),
]  # fmt: skip


@pytest.mark.parametrize(("step", "grade", "before", "routes", "roles"), CASES)
def test_ladder_routes_each_step_to_its_roles(
    step: Step, grade: Grade, before: int | None, routes: list[str], roles: set[Role]
) -> None:
    p = esc.plan(LADDER, trig(step, grade, warning_before_min=before))
    assert list(p.routes) == routes
    assert roles_of(p) == roles
    assert p.unreachable == ()


def test_department_roles_reach_each_responsible_body_own_contact() -> None:
    p = esc.plan(LADDER, trig(Step.UNACKNOWLEDGED))
    heads = {r.body for d in p.deliveries for r in d.recipients if r.role is Role.DEPARTMENT_HEAD}
    assert heads == set(BODIES)
    other = esc.plan(LADDER, trig(Step.UNACKNOWLEDGED, bodies=("安岳县人民政府",)))
    assert {r.body for d in other.deliveries for r in d.recipients
            if r.role is Role.DEPARTMENT_HEAD} == {"安岳县人民政府"}  # fmt: skip


def test_recipients_on_one_robot_share_one_delivery_with_stable_keys() -> None:
    p = esc.plan(LADDER, trig(Step.OPENED))
    channels = [d.channel for d in p.deliveries]
    assert len(channels) == len(set(channels))
    feishu = next(d for d in p.deliveries if d.channel == "departments-feishu")
    assert len(feishu.recipients) == 2 and feishu.key == "k/departments-feishu"
    assert esc.plan(LADDER, trig(Step.OPENED)) == p  # pure: same input, same plan


def _tree(quiet: bool | None = None) -> esc.Route:
    child = esc.Route(name="by-body", match=esc.Matchers(bodies=frozenset({"甲局"})),
                      roles=(Role.DEPARTMENT_HEAD,), continue_=True)  # fmt: skip
    inherit = esc.Route(name="inherit", match=esc.Matchers(grades=frozenset({Grade.IV})),
                        quiet_hours=quiet)  # fmt: skip
    return esc.Route(name="root", roles=(Role.DUTY_STAFF,), routes=(child, inherit))


def test_match_continue_and_inherited_options() -> None:
    t = trig(Step.OPENED, Grade.IV, bodies=("甲局",))
    got = esc.match(_tree(quiet=False), t)
    assert [m.route for m in got] == ["by-body", "inherit"]
    assert got[0].roles == (Role.DEPARTMENT_HEAD,) and got[0].quiet_hours is True
    assert got[1].roles == (Role.DUTY_STAFF,) and got[1].quiet_hours is False
    assert [m.route for m in esc.match(_tree(), trig(Step.OPENED, Grade.III))] == ["root"]


def test_a_body_without_contact_is_reported_unreachable_not_dropped() -> None:
    contacts = (esc.Contact(name="值班", role=Role.DUTY_STAFF, reach=(esc.Reach(channel="c"),)),)
    ladder = esc.Ladder(route=esc.Route(name="r", roles=(Role.DUTY_STAFF, Role.DEPARTMENT_HEAD)),
                        contacts=contacts)  # fmt: skip
    p = esc.plan(ladder, trig(Step.OPENED, bodies=("乙局",)))
    assert p.unreachable == (esc.Unreachable(role=Role.DEPARTMENT_HEAD, body="乙局"),)
    assert roles_of(p) == {Role.DUTY_STAFF}


def test_the_producer_names_no_role() -> None:
    """main: the domain's roles were merged with the tree's, so a YAML could add people but
    never remove one. The trigger has no roles now; only the tree decides."""
    assert "roles" not in esc.Trigger.__struct_fields__


QUIET = esc.QuietHours(start=time(22, 0), end=time(7, 30))
CST = timedelta(hours=8)


def local(h: int, m: int = 0, day: int = 25) -> datetime:
    return datetime(2026, 11, day, h, m, tzinfo=UTC) - CST


@pytest.mark.parametrize(
    ("at", "grade", "expected"),
    [
        (local(23), Grade.III, local(7, 30, day=26)),  # before midnight → next morning
        (local(3), Grade.IV, local(7, 30)),  # after midnight → same morning
        (local(12), Grade.IV, local(12)),  # daytime: now
        (local(7, 30), Grade.III, local(7, 30)),  # the end itself is not quiet
        (local(23), Grade.II, local(23)),  # grade II never waits
        (local(3), Grade.I, local(3)),  # grade I never waits
    ],
)
def test_quiet_hours_hold_only_grades_three_and_four(
    at: datetime, grade: Grade, expected: datetime
) -> None:
    assert esc.deliver_at(at, grade, QUIET, applies=True) == expected


def test_quiet_hours_reach_the_plan_and_a_route_can_waive_them() -> None:
    night = local(23)
    held = esc.plan(LADDER, trig(Step.OPENED, Grade.IV, at=night))
    # duty staff are never held (main: a grade III food poisoning reached no one overnight)
    when = {(r.role, d.not_before) for d in held.deliveries for r in d.recipients}
    assert when == {(Role.DUTY_STAFF, night), (Role.DEPARTMENT_CONTACT, local(7, 30, day=26))}
    assert {d.key for d in held.deliveries if d.not_before != night} == {
        "k/departments-feishu/quiet", "k/duty-email/quiet",
    }  # fmt: skip
    urgent = esc.plan(LADDER, trig(Step.OPENED, Grade.II, at=night))
    assert {d.not_before for d in urgent.deliveries} == {night}
    alert = esc.plan(LADDER, trig(Step.DELIVERY_FAILED, Grade.IV, at=night))
    assert {d.not_before for d in alert.deliveries} == {night}
