"""Each channel against a local server that checks the service's format and signature."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from typing import Any

from monitor.domain.escalation import Recipient, Role
from monitor.notify.channels import mail_message_id, make_channel, webhook_signature
from monitor.notify.config import ChannelSpec
from monitor.notify.message import render
from tests.notify.conftest import FakeClock, Services
from tests.notify.test_message import NOW, msg

NOTE = render(msg(), NOW)
DUTY = Recipient(name="值班室", role=Role.DUTY_STAFF, body=None, address="13800000000")
USER = Recipient(name="联络人", role=Role.DEPARTMENT_CONTACT, body="市应急管理局", address="ou_abc")
MAIL = Recipient(name="值班室", role=Role.DUTY_STAFF, body=None, address="duty@example.invalid")


def spec(services: Services, name: str, **change: Any) -> ChannelSpec:
    raw = next(s for s in services.channel_specs() if s["name"] == name)
    return ChannelSpec.model_validate({**raw, **change})


async def test_wecom_markdown_and_mobile_mentions(services: Services, clock: FakeClock) -> None:
    ch = make_channel(spec(services, "duty-wecom"))
    got = await ch.send(NOTE, (USER,), "k1", clock())
    assert got.ok and got.answer == '{"errcode": 0, "errmsg": "ok"}'
    body = services.wecom.service.accepted[-1].json
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["content"].startswith("**【新舆情事件】雁江区某化工厂爆炸**")
    assert body["markdown"]["content"].endswith("<@ou_abc>")
    got = await ch.send(NOTE, (DUTY,), "k2", clock())
    body = services.wecom.service.accepted[-1].json
    assert got.ok and body["msgtype"] == "text"
    assert body["text"]["mentioned_mobile_list"] == ["13800000000"]


async def test_wecom_errors_are_reported_with_the_service_answer(
    services: Services, clock: FakeClock
) -> None:
    wrong = make_channel(
        spec(services, "duty-wecom", url=f"{services.wecom.base}/cgi-bin/webhook/send?key=bad")
    )
    got = await wrong.send(NOTE, (), "k", clock())
    assert not got.ok and not got.retryable and "93000" in got.answer
    ch = make_channel(spec(services, "duty-wecom"))
    results = [await ch.send(NOTE, (), f"k{i}", clock()) for i in range(21)]
    assert all(r.ok for r in results[:20])
    assert results[20].rate_limited and "45009" in results[20].answer


async def test_dingtalk_signed_markdown(services: Services, clock: FakeClock) -> None:
    ch = make_channel(spec(services, "leaders-dingtalk"))
    got = await ch.send(NOTE, (DUTY,), "k", clock())
    assert got.ok, got.answer
    req = services.ding.service.accepted[-1]
    assert int(req.query["timestamp"]) == int(clock().timestamp() * 1000)
    assert req.json["at"]["atMobiles"] == ["13800000000"]
    assert "@13800000000" in req.json["markdown"]["text"]
    assert req.json["markdown"]["title"] == "【新舆情事件】雁江区某化工厂爆炸"


async def test_dingtalk_bad_secret_and_send_too_fast(services: Services, clock: FakeClock) -> None:
    bad = make_channel(spec(services, "leaders-dingtalk", secret="SECwrong"))
    got = await bad.send(NOTE, (), "k", clock())
    assert not got.ok and not got.retryable and "sign not match" in got.answer
    ch = make_channel(spec(services, "leaders-dingtalk"))
    results = [await ch.send(NOTE, (), f"k{i}", clock()) for i in range(21)]
    assert results[20].rate_limited and "130101" in results[20].answer
    assert "send too fast" in results[20].answer
    clock.advance(minutes=1, seconds=1)
    assert (await ch.send(NOTE, (), "later", clock())).ok


async def test_dingtalk_stale_timestamp_is_refused(services: Services, clock: FakeClock) -> None:
    ch = make_channel(spec(services, "leaders-dingtalk"))
    got = await ch.send(NOTE, (), "k", clock() - timedelta(hours=2))
    assert not got.ok and "310000" in got.answer


async def test_feishu_interactive_card(services: Services, clock: FakeClock) -> None:
    ch = make_channel(spec(services, "departments-feishu"))
    got = await ch.send(NOTE, (USER,), "k", clock())
    assert got.ok, got.answer
    card = services.feishu.service.accepted[-1].json["card"]
    assert card["header"]["title"]["content"] == "【新舆情事件】雁江区某化工厂爆炸"
    assert card["header"]["template"] == "red"
    assert "<at id=ou_abc></at>" in card["elements"][0]["text"]["content"]
    assert card["elements"][1]["actions"][0]["url"] == "https://yuqing.example.invalid/incidents/i1"


async def test_feishu_sign_failure_19021(services: Services, clock: FakeClock) -> None:
    ch = make_channel(spec(services, "departments-feishu", secret="wrong"))
    got = await ch.send(NOTE, (), "k", clock())
    assert not got.ok and not got.retryable
    assert '"code": 19021' in got.answer and "sign match fail" in got.answer


async def test_webhook_signed_and_idempotent(services: Services, clock: FakeClock) -> None:
    ch = make_channel(spec(services, "sms-gateway"))
    first = await ch.send(NOTE, (DUTY,), "notify:i1:opened/sms", clock())
    again = await ch.send(NOTE, (DUTY,), "notify:i1:opened/sms", clock())
    assert first.ok and again.ok and "409" in again.answer
    fake = services.hook.service
    assert len(fake.accepted) == 1 and len(fake.received) == 2
    req = fake.accepted[0]
    ts = req.headers["x-yuqing-timestamp"]
    assert req.headers["x-yuqing-signature"] == webhook_signature("hook-secret", ts, req.body)
    assert req.json["recipients"] == [
        {"name": "值班室", "role": "duty_staff", "address": "13800000000"}
    ]
    bad = make_channel(spec(services, "sms-gateway", secret="nope"))
    refused = await bad.send(NOTE, (), "other", clock())
    assert (not refused.ok and "401" in refused.answer) or "bad signature" in refused.answer


async def test_endpoint_down_is_retryable(services: Services, clock: FakeClock) -> None:
    services.feishu.service.down = True
    got = await make_channel(spec(services, "departments-feishu")).send(NOTE, (), "k", clock())
    assert not got.ok and got.retryable


async def test_email_multipart_with_chinese_subject(services: Services, clock: FakeClock) -> None:
    ch = make_channel(spec(services, "duty-email", to=["zfb@example.invalid"]))
    got = await ch.send(NOTE, (MAIL, DUTY), "notify:i1:opened/duty-email", clock())
    assert got.ok and got.answer.startswith("250 "), got.answer
    (mail,) = services.mail.mails
    assert mail.rcpt_tos == ["duty@example.invalid", "zfb@example.invalid"]
    m: EmailMessage = mail.message
    assert m["Subject"] == "【新舆情事件】雁江区某化工厂爆炸"
    assert mail.raw.startswith(b"Subject: =?utf-8?b?")  # RFC 2047 on the wire, not raw UTF-8
    assert m["Message-ID"] == mail_message_id("notify:i1:opened/duty-email")
    assert m.get_content_type() == "multipart/alternative"
    plain = m.get_body(("plain",))
    rich = m.get_body(("html",))
    assert plain is not None and rich is not None
    assert "权威信息发布：剩余 3小时12分" in plain.get_content()
    assert "<h2>【新舆情事件】雁江区某化工厂爆炸</h2>" in rich.get_content()


async def test_email_without_any_address_fails_clearly(
    services: Services, clock: FakeClock
) -> None:
    got = await make_channel(spec(services, "duty-email")).send(NOTE, (DUTY,), "k", clock())
    assert not got.ok and got.answer == "no email address among the recipients"
