"""Real parts for the web tests: a SQLite store holding incidents the domain opened, users from
a YAML file, and the API served by a real uvicorn on 127.0.0.1 where a browser needs one."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import uvicorn
from prometheus_client import CollectorRegistry

from monitor.config import load_config
from monitor.domain import incidents
from monitor.domain.model import Post
from monitor.domain.policy import IncidentParams
from monitor.domain.state import IncidentState
from monitor.runtime.broker import free_port
from monitor.service import Classifier
from monitor.store import Store
from monitor.store.users import Accounts
from monitor.web.auth import Users
from monitor.web.status import create_app
from streams.records import ActionRequest, encoder
from tests.conftest import IN_CI, skip_or_fail

__all__ = ["IN_CI", "skip_or_fail"]

BLAST = "资阳市雁江区宝台镇一化工厂发生爆炸，已造成12人死亡，多人受伤，现场浓烟滚滚。"
SCHOOL = "安岳县石羊镇中心小学学生午餐后出现呕吐腹泻，疑似食物中毒，20余名学生送医。"

TOKENS = {
    "duty": "duty-token-0123456789",
    "admin": "admin-token-0123456789",
    "leader": "leader-token-0123456789",
    "emergency": "emergency-token-0123456789",  # 市应急管理局, responsible for the blast
    "education": "education-token-0123456789",  # 市教育和体育局, responsible for neither
}


def open_incident(pid: str, text: str, at: datetime) -> tuple[IncidentState, list[object]]:
    p = Post(id=pid, text=text, source="weibo", published_at=at, observed_at=at)
    cls = Classifier.from_config(load_config()).classify(p)
    params = IncidentParams()
    out = incidents.open_incident(p, cls, params, incidents.assign([], p, cls, params, "512000"))
    return out.state, list(out.events)


class World:
    """A store with two incidents opened by the domain 1 h ago, and what the API sent."""

    def __init__(self, tmp: Path) -> None:
        self.now = datetime.now(UTC)
        self.store = Store(f"sqlite:///{tmp / 'monitor.db'}")
        self.blast, ev1 = open_incident("p-blast", BLAST, self.now - timedelta(hours=1))
        self.school, ev2 = open_incident("p-school", SCHOOL, self.now - timedelta(hours=2))
        self.store.save_states([self.blast, self.school])
        self.store.record_events([*ev1, *ev2])  # type: ignore[list-item]
        self.sent: list[tuple[str, ActionRequest]] = []

    async def send(self, key: str, body: bytes) -> None:
        self.sent.append((key, msgspec.json.decode(body, type=ActionRequest)))

    def put_state(self, state: IncidentState) -> None:
        self.store.save_states([state])

    def archive_post(self, p: Post) -> None:
        self.store.archive("post", p.id, encoder.encode(p))

    def snapshot(self) -> tuple[object, ...]:
        """Everything an answer may change, to show a refused one changed nothing."""
        return (
            [r.state for r in self.store.incidents()],
            list(self.store.archived()),
            self.store.audit_rows(),
            list(self.sent),
        )


USERS = [
    ("值班员甲", "duty", None, "duty"), ("管理员", "admin", None, "admin"),
    ("分管领导", "leader", None, "leader"),
    ("应急局联络员", "department", "市应急管理局", "emergency"),
    ("教育局联络员", "department", "市教育和体育局", "education"),
]


def add_users(store: Store) -> Users:
    """The test users in the store, with the fixed tokens above (as a users.yaml of an older
    version would bring them in)."""
    accounts = Accounts(store)
    for name, role, body, who in USERS:
        accounts.add(name, role, body, datetime.now(UTC), token=TOKENS[who])
    return Users(accounts)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.store.close()


@pytest.fixture
def users(world: World) -> Users:
    return add_users(world.store)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def auth(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[who]}"}


@contextlib.asynccontextmanager
async def api_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app` called in-process (ASGI): no server, no port."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://web") as c:
        yield c


@pytest.fixture
async def client(
    world: World, users: Users, registry: CollectorRegistry
) -> AsyncIterator[httpx.AsyncClient]:
    """The API over the world's store, its clock the world's, its answers sent to the world."""
    app = create_app(world.store, registry, users=users, send=world.send, clock=lambda: world.now)
    async with api_client(app) as c:
        yield c


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """`app` on a real uvicorn on 127.0.0.1, in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_graceful_shutdown=1))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
