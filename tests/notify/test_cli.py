"""`monitor notify test|route|check` from the command line."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.cli.main import main
from monitor.notify.config import DEFAULT_LADDER
from tests.notify.conftest import Services


def channels_file(tmp_path: Path, services: Services, **change: dict[str, Any]) -> Path:
    specs = services.channel_specs()
    for spec in specs:
        spec.update(change.get(spec["type"], {}))
    next(s for s in specs if s["type"] == "email")["to"] = ["duty@example.invalid"]
    p = tmp_path / "channels.yaml"
    p.write_text(yaml.safe_dump({"channels": specs}, allow_unicode=True), encoding="utf-8")
    return p


@pytest.fixture
def live(services: Services) -> Services:
    for name in ("wecom", "ding", "feishu", "hook"):
        getattr(services, name).service.clock = lambda: datetime.now(UTC)
    return services


def test_notify_test_delivers_a_grade_two_sample_everywhere(
    live: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["notify", "test", "--channels", str(channels_file(tmp_path, live))]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == [
        "duty-wecom (wecom)", "duty-email (email)", "departments-feishu (feishu)",
        "leaders-dingtalk (dingtalk)", "sms-gateway (webhook)",
    ]  # fmt: skip
    assert all(": delivered: " in line for line in out)
    assert 'duty-wecom (wecom): delivered: {"errcode": 0, "errmsg": "ok"}' in out
    card = live.feishu.service.accepted[0].json["card"]
    assert card["header"]["title"]["content"].startswith("【新舆情事件】【测试】")
    assert "II级（重大）" in card["elements"][0]["text"]["content"]
    assert "权威信息发布：剩余 3小时12分" in card["elements"][0]["text"]["content"]
    (mail,) = live.mail.mails
    assert mail.rcpt_tos == ["duty@example.invalid"]


def test_notify_test_reports_failures_with_the_service_answer_and_exits_1(
    live: Services, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = channels_file(tmp_path, live, feishu={"secret": "wrong"}, dingtalk={"secret": "SECx"})
    assert main(["notify", "test", "--channels", str(path)]) == 1
    out = capsys.readouterr().out
    assert "departments-feishu (feishu): failed: " in out and '"code": 19021' in out
    assert "leaders-dingtalk (dingtalk): failed: " in out and "310000" in out
    assert "duty-wecom (wecom): delivered" in out


def test_notify_test_rejects_a_bad_file_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = tmp_path / "c.yaml"
    p.write_text("channels:\n  - {name: x, type: dingtalk, url: 'http://127.0.0.1:9/r'}\n")
    assert main(["notify", "test", "--channels", str(p)]) == 2
    assert f"{p}:2: channels[0].secret: a dingtalk channel needs its signing secret" in (
        capsys.readouterr().out
    )


def test_notify_route_and_check(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["notify", "route", "--step", "warning", "--grade", "II", "--warning-before-min", "60",
            "--body", "市应急管理局"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("routes: warning-1h, warning")
    assert "分管副市长[分管领导]" in out and "市应急管理局联络人[部门联络人]" in out
    assert main(["notify", "check"]) == 0
    contacts = len(yaml.safe_load(DEFAULT_LADDER.read_text("utf-8"))["contacts"])
    assert capsys.readouterr().out.startswith(f"ok: {contacts} contacts, 5 channels")


def test_notify_run_once_drains_an_outbox_in_dry_run(
    tmp_path: Path, ladder_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from prometheus_client import CollectorRegistry

    from monitor.notify.bootstrap import create_notifier
    from tests.notify.conftest import FakeClock
    from tests.notify.test_delivery import opened

    db = f"sqlite:///{tmp_path / 'outbox.db'}"
    clock = FakeClock(datetime.now(UTC))
    create_notifier(db, CollectorRegistry(), ladder_path, clock=clock).submit(opened(clock))
    assert (
        main(["notify", "run", "--db", db, "--ladder", str(ladder_path), "--dry-run", "--once"])
        == 0
    )
    assert capsys.readouterr().out == "sent 5; outbox: {'sent': 5}\n"
