"""The city config's `escalation` section is read (main: `escalation` and `contacts` in the city
file were read by nothing): `escalation.ladder` names the escalation file `monitor run` sends
through, relative to the city file, and `public_url` the address links point to."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from prometheus_client import CollectorRegistry

from monitor.config import ladder_path, load_config
from monitor.domain.escalation import Step, Trigger, plan
from monitor.domain.model import Grade
from monitor.testing import city_config_text

LADDER = """
version: city-test
channels:
  - {name: im, type: dryrun, url: "dryrun:"}
route:
  name: root
  roles: [duty_staff]
contacts:
  - {name: 本市值班室, role: duty_staff, reach: [{channel: im}]}
"""


def test_the_city_names_its_ladder_and_public_url(tmp_path: Path) -> None:
    (tmp_path / "ladders").mkdir()
    (tmp_path / "ladders" / "city.yaml").write_text(LADDER, encoding="utf-8")
    city = tmp_path / "city.yaml"
    text = city_config_text().replace(
        "escalation: {}",
        "escalation: {ladder: ladders/city.yaml, public_url: https://yuqing.ziyang.example}",
    )
    city.write_text(text, encoding="utf-8")
    cfg = load_config(city)
    assert ladder_path(cfg) == (tmp_path / "ladders" / "city.yaml").resolve()
    assert cfg.escalation.public_url == "https://yuqing.ziyang.example"


def test_the_notifier_uses_the_named_ladder(tmp_path: Path) -> None:
    from monitor.notify.bootstrap import create_notifier

    path = tmp_path / "city-ladder.yaml"
    path.write_text(LADDER, encoding="utf-8")
    n = create_notifier(f"sqlite:///{tmp_path / 'o.db'}", CollectorRegistry(), path, dry_run=True)
    t = Trigger(key="k", incident_id="i", step=Step.OPENED, grade=Grade.IV,
                at=datetime(2026, 11, 25, 2, tzinfo=UTC))  # fmt: skip
    assert {r.name for d in plan(n.settings.ladder, t).deliveries for r in d.recipients} == {
        "本市值班室"
    }
