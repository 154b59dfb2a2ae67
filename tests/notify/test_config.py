"""Ladder and channel files are checked when they load; errors name file, line and path."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import ConfigError, load_config
from monitor.notify.config import DEFAULT_LADDER, city_bodies, load_channels, load_ladder

GOOD = """\
channels:
  - {name: duty, type: wecom, url: "http://127.0.0.1:9/send?key=k"}
  - {name: ding, type: dingtalk, url: "http://127.0.0.1:9/robot/send?access_token=t", secret: S}
route:
  name: root
  roles: [duty_staff]
  routes:
    - name: breach
      match: {steps: [breach]}
      roles: [main_leader]
contacts:
  - {name: 值班室, role: duty_staff, reach: [{channel: duty}]}
  - {name: 市长, role: main_leader, reach: [{channel: ding, address: "13800000001"}]}
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "ladder.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def issues(tmp_path: Path, text: str, bodies: set[str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_ladder(write(tmp_path, text), bodies)
    return [str(i) for i in info.value.issues]


def test_shipped_ziyang_ladder_is_valid_against_the_city_config() -> None:
    settings = load_ladder(DEFAULT_LADDER, city_bodies(load_config()))
    assert settings.ladder.quiet_hours is not None
    assert {c.type for c in settings.channels.values()} == {
        "wecom", "dingtalk", "feishu", "email", "webhook"}  # fmt: skip


def test_a_good_small_ladder_loads(tmp_path: Path) -> None:
    s = load_ladder(write(tmp_path, GOOD))
    assert s.ladder.route.routes[0].name == "breach"
    assert s.ladder.quiet_hours is None


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("reach: [{channel: duty}]", "reach: [{channel: nope}]",
         ":12: contacts[0].reach[0].channel: no channel named 'nope'"),
        (", secret: S}", "}", ":3: channels[1].secret: a dingtalk channel needs its signing secret"),
        ("roles: [main_leader]", "roles: [mayor]", ":10: route.routes[0].roles[0]: Input should be"),
        ("steps: [breach]", "steps: [explode]", ":9: route.routes[0].match.steps[0]: Input should be"),
        ("roles: [main_leader]", "roles: [government_office]",
         ":10: route.routes[0].roles[0]: role government_office is routed to but no contact holds it"),
        ("name: breach", "name: root", ":8: route.routes[0].name: route name 'root' is used twice"),
        ("{name: ding,", "{name: duty,", ":3: channels[1].name: channel name 'duty' is used twice"),
        ('url: "http://127.0.0.1:9/send?key=k"', 'url: "ftp://x"', ":2: channels[0].url: url must"),
        ("role: main_leader,", "role: main_leader, body: 市应急管理局,",
         ":13: contacts[1].body: role main_leader is city-wide; remove body"),
        ("name: root\n", "name: root\n  bogus: 1\n", ":6: route.bogus: Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_bad_ladders_name_line_and_path(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in GOOD
    found = issues(tmp_path, GOOD.replace(old, new, 1))
    assert any(expected in i for i in found), found
    assert all(i.startswith(str(tmp_path / "ladder.yaml")) for i in found)


def test_quiet_hours_and_offset_are_checked(tmp_path: Path) -> None:
    text = GOOD + 'quiet_hours: {start: "25:00", end: "07:30"}\nutc_offset: "8h"\n'
    found = issues(tmp_path, text)
    assert any(":14: quiet_hours.start: '25:00' is not a time like 22:00" in i for i in found)
    assert any(":15: utc_offset: '8h' is not an offset like +08:00" in i for i in found)


def test_unknown_body_is_rejected_when_city_bodies_are_given(tmp_path: Path) -> None:
    text = (
        GOOD + "  - {name: 某局, role: department_head, body: 不存在局, reach: [{channel: duty}]}\n"
    )
    found = issues(tmp_path, text, bodies={"市应急管理局"})
    assert any(
        ":14: contacts[2].body: '不存在局' is not a body of the city config" in i for i in found
    )


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    text = GOOD.replace(", secret: S}", "}").replace("{channel: duty}", "{channel: nope}")
    assert len(issues(tmp_path, text)) == 2


def test_channels_file_for_notify_test(tmp_path: Path) -> None:
    p = tmp_path / "channels.yaml"
    p.write_text("channels:\n  - {name: a, type: feishu, url: 'http://x/h', secret: s}\n"
                 "  - {name: b, type: sms, url: 'http://x/s', secret: s}\n", encoding="utf-8")  # fmt: skip
    with pytest.raises(ConfigError) as info:
        load_channels(p)
    assert ":3: channels[1].type: Input should be" in str(info.value)
