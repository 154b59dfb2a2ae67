from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, create_engine

from monitor.notify.channels import Channel, make_channel
from monitor.notify.config import DEFAULT_LADDER, NotifySettings, load_ladder
from monitor.notify.delivery import DeliveryPolicy, Notifier
from monitor.notify.outbox import Outbox
from monitor.testing import START, FakeClock, metric
from tests.conftest import postgres_schema
from tests.notify.fakes import DingTalk, Feishu, MailSink, Running, Webhook, WeCom, start_smtp

__all__ = ["START", "FakeClock", "metric"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@dataclass
class Services:
    wecom: Running
    ding: Running
    feishu: Running
    hook: Running
    smtp_port: int
    mail: MailSink

    def channel_specs(self) -> list[dict[str, Any]]:
        return [
            {"name": "duty-wecom", "type": "wecom",
             "url": f"{self.wecom.base}/cgi-bin/webhook/send?key=wecom-key"},
            {"name": "duty-email", "type": "email", "url": f"smtp://127.0.0.1:{self.smtp_port}",
             "sender": "yuqing-monitor@example.invalid"},
            {"name": "departments-feishu", "type": "feishu", "secret": "feishu-secret",
             "url": f"{self.feishu.base}/open-apis/bot/v2/hook/feishu-hook"},
            {"name": "leaders-dingtalk", "type": "dingtalk", "secret": "SECding",
             "url": f"{self.ding.base}/robot/send?access_token=ding-token"},
            {"name": "sms-gateway", "type": "webhook", "secret": "hook-secret",
             "url": f"{self.hook.base}/sms/send"},
        ]  # fmt: skip


@pytest.fixture
def services(clock: FakeClock) -> Iterator[Services]:
    running = [Running(cls(clock=clock)) for cls in (WeCom, DingTalk, Feishu, Webhook)]
    controller, sink = start_smtp()
    try:
        yield Services(*running, smtp_port=controller.port, mail=sink)
    finally:
        controller.stop()
        for r in running:
            r.close()


def write_ladder(path: Path, services: Services, **overrides: Any) -> Path:
    """The shipped Ziyang ladder with its placeholder endpoints pointed at the fakes."""
    data = yaml.safe_load(DEFAULT_LADDER.read_text(encoding="utf-8"))
    data["channels"] = services.channel_specs()
    data.update(overrides)
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def ladder_path(tmp_path: Path, services: Services) -> Path:
    return write_ladder(tmp_path / "ladder.yaml", services)


@pytest.fixture
def settings(ladder_path: Path) -> NotifySettings:
    return load_ladder(ladder_path)


def _postgres_engine() -> Iterator[Engine]:
    with postgres_schema("notify") as url:
        engine = create_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = create_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
        yield eng
        eng.dispose()
    else:
        yield from _postgres_engine()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    eng = create_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    yield eng
    eng.dispose()


def build_notifier(
    settings: NotifySettings,
    engine: Engine,
    clock: FakeClock,
    registry: CollectorRegistry | None = None,
    policy: DeliveryPolicy | None = None,
    **kw: Any,
) -> Notifier:
    outbox = Outbox(engine)
    outbox.create()
    channels: dict[str, Channel] = {n: make_channel(s) for n, s in settings.channels.items()}
    return Notifier(
        settings, outbox, channels, clock, registry or CollectorRegistry(), policy, **kw
    )
