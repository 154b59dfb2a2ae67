"""Builders for realistic posts and domain states, shared by the integration tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

from monitor.config import load_config
from monitor.domain import incidents
from monitor.domain.model import Post
from monitor.domain.policy import IncidentParams
from monitor.domain.state import Outcome
from monitor.service import Classifier

T0 = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)

BLAST = "资阳市雁江区宝台镇一化工厂发生爆炸，已造成12人死亡，多人受伤，现场浓烟滚滚。"
SCHOOL = "安岳县石羊镇中心小学学生午餐后出现呕吐腹泻，疑似食物中毒，20余名学生送医。"
FIRE = "乐至县天池街道一居民楼发生火灾，1人受伤，消防正在扑救。"


def post(pid: str, text: str, minutes: float = 0, **kw: object) -> Post:
    at = T0 + timedelta(minutes=minutes)
    return Post(id=pid, text=text, source="weibo", published_at=at, observed_at=at, **kw)  # type: ignore[arg-type]


# Three incidents at once: a blast (reposted, and reported again), a school poisoning (reported
# twice) and a fire, and one post that is no incident. (id, text, minutes after the start,
# other fields); `repost_of` names an id of this list.
THREE_INCIDENTS: list[tuple[str, str, int, dict[str, object]]] = [
    ("b1", BLAST, 0, {"author_followers": 50_000}),
    ("s1", SCHOOL, 3, {}),
    ("f1", FIRE, 5, {}),
    ("b2", "转发：" + BLAST, 10, {"repost_of": "b1"}),
    ("b3", "资阳雁江区宝台镇化工厂爆炸事故已造成12人死亡，救援仍在进行。", 20, {}),
    ("s2", "安岳县石羊镇中心小学多名学生疑似食物中毒送医，家长很着急。", 25, {}),
    ("n1", "今天资阳天气不错，适合出门散步。", 30, {}),
]


def three_incidents() -> list[Post]:
    return [post(pid, text, minutes, **kw) for pid, text, minutes, kw in THREE_INCIDENTS]


@cache
def classifier() -> Classifier:
    return Classifier.from_config(load_config())


def opened(p: Post) -> Outcome:
    cls = classifier().classify(p)
    params = IncidentParams()
    decision = incidents.assign([], p, cls, params, home="512000")
    return incidents.open_incident(p, cls, params, decision)


# --- driving a real worker -------------------------------------------------------------------

import asyncio  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402

import msgspec  # noqa: E402
from aiokafka import AIOKafkaConsumer, TopicPartition  # noqa: E402

from monitor.runtime.producer import ensure_topics, send_all, send_ticks  # noqa: E402
from monitor.testing import wait_for  # noqa: E402
from monitor.topics import Topic, topic  # noqa: E402

__all__ = ["wait_for"]

PARTITIONS = 4


def start_worker(
    broker_url: str, prefix: str, db: str, log: Path, live: bool = False, port: int | None = None
) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable, "-m", "monitor", "worker", "--broker", broker_url, "--prefix", prefix,
        "--partitions", str(PARTITIONS), "--db", db,
    ]  # fmt: skip
    if live:
        cmd.append("--live")
    if port is not None:
        cmd += ["--port", str(port)]
    asyncio.run(ensure_topics(broker_url, prefix, PARTITIONS))
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def feed(broker_url: str, prefix: str, posts: Sequence[Post]) -> None:
    enc = msgspec.json.Encoder()
    records = [(p.id.encode(), enc.encode(p)) for p in posts]
    asyncio.run(send_all(broker_url, topic(Topic.RAW, prefix), records))


def tick(broker_url: str, prefix: str, watermark: datetime) -> None:
    asyncio.run(send_ticks(broker_url, topic(Topic.CLASSIFIED, prefix), PARTITIONS, watermark))


async def _read_topic(bootstrap: str, topic: str, idle: float) -> list[tuple[bytes | None, bytes]]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    out: list[tuple[bytes | None, bytes]] = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=int(idle * 1000))
            if not batch:
                return out
            for msgs in batch.values():
                out.extend((m.key, m.value) for m in msgs if m.value is not None)
    finally:
        await consumer.stop()


def read_topic(broker_url: str, topic: str, idle: float = 1.5) -> list[dict[str, object]]:
    rows = asyncio.run(_read_topic(broker_url.removeprefix("kafka://"), topic, idle))
    return [msgspec.json.decode(v) for _, v in rows]


# --- the embedded run's notifier -------------------------------------------------------------


def bridge_caught_up(broker_url: str, prefix: str = "") -> bool:
    """The notifications → outbox bridge has committed every record on the topic."""
    from monitor.runtime.notify_bridge import GROUP

    async def check() -> bool:
        name = topic(Topic.NOTIFICATIONS, prefix)
        consumer = AIOKafkaConsumer(
            bootstrap_servers=broker_url.removeprefix("kafka://"), group_id=GROUP,
            enable_auto_commit=False,
        )  # fmt: skip
        await consumer.start()
        try:
            parts = consumer.partitions_for_topic(name) or set()
            if not parts:
                await consumer.topics()  # fetch metadata once
                parts = consumer.partitions_for_topic(name) or set()
            tps = [TopicPartition(name, p) for p in parts]
            ends = await consumer.end_offsets(tps)
            for tp in tps:
                if (await consumer.committed(tp) or 0) < ends[tp]:
                    return False
            return bool(tps)
        finally:
            await consumer.stop()

    return asyncio.run(check())


def outbox_settled(notify_db: Path) -> bool:
    """No notification row that is due is still unsent (rows held for quiet hours wait on)."""
    import sqlalchemy as sa

    if not notify_db.exists():
        return False
    engine = sa.create_engine(f"sqlite:///{notify_db}")
    try:
        with engine.connect() as conn:
            due = conn.execute(sa.text(
                "select count(*) from notify_outbox where status in ('pending', 'inflight') "
                "and next_attempt_at <= :now"
            ), {"now": datetime.now(UTC).replace(tzinfo=None)}).scalar_one()  # fmt: skip
    except sa.exc.OperationalError:  # the table is not there yet
        return False
    finally:
        engine.dispose()
    return int(due) == 0


def metrics_value(base: str, name: str, **labels: str) -> float:
    """A sample from a running process's /metrics (0.0 if absent or the process is away)."""
    import httpx

    try:
        text = httpx.get(f"{base}/metrics", timeout=2).text
    except httpx.TransportError:
        return 0.0
    want = [f'{k}="{v}"' for k, v in labels.items()]
    total = 0.0
    for line in text.splitlines():
        head, _, value = line.rpartition(" ")
        if head.split("{", 1)[0] == name and all(w in head for w in want):
            total += float(value)
    return total
