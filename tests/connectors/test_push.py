"""The push endpoint, served by uvicorn on 127.0.0.1: signatures, replays, bad bodies, idempotency."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from connectors.official import OfficialAccounts
from connectors.push import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    PushEndpoint,
    PushService,
    create_push_app,
    sign,
)
from connectors.sink import MemorySink
from tests.connectors.conftest import city_accounts, metric

SECRET = "s3cret-for-tests"


class Served:
    def __init__(self, service: PushService) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        config = uvicorn.Config(
            create_push_app(service), host="127.0.0.1", port=self.port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(5)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class ThreadSafeSink(MemorySink):
    """The service runs on uvicorn's loop in another thread; lists are fine across it."""


@pytest.fixture
def push(store, metrics, tmp_path) -> Iterator[tuple[Served, ThreadSafeSink]]:
    sink = ThreadSafeSink()
    # the city config: the grid platform's push source is 雁江区人民政府's official channel
    city = city_accounts(tmp_path, "[{department: 雁江区人民政府, push: [grid]}]")
    service = PushService(
        [PushEndpoint("hotline12345", SECRET), PushEndpoint("grid", "other")],
        sink=sink,
        store=store,
        metrics=metrics,
        official=OfficialAccounts(city),
    )
    with Served(service) as served:
        yield served, sink


def post_body(**over: object) -> bytes:
    item = {
        "id": "GD20260418-001",
        "text": "雁江区某小区楼道堆放杂物存在火灾隐患",
        "published_at": "2026-04-18T23:26:00+08:00",
        "author": "市民",
        "region": "四川",
    }
    item.update(over)
    return json.dumps(item, ensure_ascii=False).encode()


def send(
    served: Served,
    body: bytes,
    *,
    secret: str = SECRET,
    ts: int | None = None,
    path: str = "/push/hotline12345",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    stamp = str(int(time.time()) if ts is None else ts)
    hdrs = {
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: sign(secret, stamp, body),
        "Content-Type": "application/json",
    }
    hdrs.update(headers or {})
    return httpx.post(served.url + path, content=body, headers=hdrs, timeout=5)


def test_accepts_a_signed_post_and_is_idempotent(push, registry) -> None:
    served, sink = push
    first = send(served, post_body())
    assert first.status_code == 202
    assert first.json() == {"accepted": ["push:hotline12345:GD20260418-001"], "duplicates": []}
    again = send(served, post_body())
    assert again.status_code == 202
    assert again.json() == {"accepted": [], "duplicates": ["push:hotline12345:GD20260418-001"]}
    (post,) = sink.posts
    assert post.source == "hotline12345" and post.text.startswith("雁江区某小区")
    assert not post.official and post.department is None  # no body's channel
    assert post.published_at.isoformat() == "2026-04-18T23:26:00+08:00"
    assert post.observed_at is not None
    assert metric(registry, "connector_duplicates_total", source="push:hotline12345") == 1


def test_a_list_of_posts_and_department_endpoint(push) -> None:
    served, sink = push
    # g2 claims another department: the endpoint's configured body is what counts
    claim = {"official": True, "department": "市应急管理局"}
    body = json.dumps(
        [json.loads(post_body(id="g1")), json.loads(post_body(id="g2", **claim))]
    ).encode()
    resp = send(served, body, secret="other", path="/push/grid")
    assert resp.status_code == 202, resp.text
    assert [p.id for p in sink.posts] == ["push:grid:g1", "push:grid:g2"]
    assert all(p.official and p.department == "雁江区人民政府" for p in sink.posts)


def test_bad_signature(push, registry) -> None:
    served, sink = push
    resp = send(served, post_body(), secret="wrong")
    assert resp.status_code == 401
    assert resp.json()["error"] == "bad_signature"
    assert "does not match HMAC-SHA256" in resp.json()["message"]
    assert sink.posts == [] and sink.dead == []
    assert (
        metric(registry, "connector_errors_total", source="push:hotline12345", kind="bad_signature")
        == 1
    )


def test_tampered_body_fails_signature(push) -> None:
    served, _ = push
    stamp = str(int(time.time()))
    good = sign(SECRET, stamp, post_body())
    resp = httpx.post(
        served.url + "/push/hotline12345",
        content=post_body(text="改过的"),
        headers={TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: good},
    )
    assert resp.json()["error"] == "bad_signature"


def test_stale_timestamp(push) -> None:
    served, sink = push
    resp = send(served, post_body(), ts=int(time.time()) - 301)
    assert resp.status_code == 401
    assert resp.json()["error"] == "stale_timestamp"
    assert "refused as a possible replay" in resp.json()["message"]
    assert sink.posts == []


def test_missing_headers(push) -> None:
    served, _ = push
    resp = httpx.post(served.url + "/push/hotline12345", content=post_body())
    assert resp.status_code == 401 and resp.json()["error"] == "missing_signature"


def test_malformed_body(push, registry) -> None:
    served, sink = push
    resp = send(served, b'{"id": "x", "text": ')
    assert resp.status_code == 400
    assert resp.json()["error"] == "malformed_body"
    assert "not valid JSON" in resp.json()["message"]
    assert sink.dead and sink.dead[0].reason.startswith("malformed_body")
    assert (
        metric(
            registry,
            "connector_dead_letters_total",
            source="push:hotline12345",
            reason="malformed_body",
        )
        == 1
    )


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (
            post_body(published_at="2026-04-18T23:26:00"),
            "published_at must be an ISO time with a UTC offset",
        ),
        (post_body(reposts="很多"), "$.reposts"),
        (post_body(text=""), "text is empty"),
        (json.dumps({"text": "无id"}).encode(), "missing required field `id`"),
        (b"[]", "the list of posts is empty"),
    ],
)
def test_invalid_posts_name_the_field(push, body: bytes, words: str) -> None:
    served, sink = push
    resp = send(served, body)
    assert resp.status_code == 422
    assert resp.json()["error"] == "invalid_post"
    assert words in resp.json()["message"]
    assert sink.posts == []


def test_unknown_source(push) -> None:
    served, _ = push
    assert send(served, post_body(), path="/push/nobody").status_code == 404


def test_nothing_accepted_is_lost_when_the_sink_fails(push) -> None:
    served, sink = push
    sink.fail_next = 1
    resp = send(served, post_body(id="retry-me"))
    assert resp.status_code == 503 and resp.json()["error"] == "unavailable"
    # The sender retries (it got no 202); the post was not recorded as seen, so it goes through.
    assert send(served, post_body(id="retry-me")).json()["accepted"] == [
        "push:hotline12345:retry-me"
    ]
    assert [p.id for p in sink.posts] == ["push:hotline12345:retry-me"]


def test_concurrent_identical_pushes_send_once(push) -> None:
    served, sink = push
    body = post_body(id="same")

    async def many() -> list[int]:
        async with httpx.AsyncClient() as client:
            stamp = str(int(time.time()))
            headers = {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(SECRET, stamp, body)}
            resps = await asyncio.gather(
                *(
                    client.post(served.url + "/push/hotline12345", content=body, headers=headers)
                    for _ in range(8)
                )
            )
            return [r.status_code for r in resps]

    assert asyncio.run(many()) == [202] * 8
    assert [p.id for p in sink.posts] == ["push:hotline12345:same"]
