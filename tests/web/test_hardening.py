"""The web edge against careless or hostile requests: bounded bodies, strict JSON, errors in
the documented shape, security headers, and Swagger UI served from here (no CDN)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from monitor.web.guard import CSP, MAX_BODY_BYTES, json_depth
from tests.web.conftest import World, auth


def actions(world: World) -> str:
    return f"/api/incidents/{world.blast.id}/actions"


def chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


async def test_a_declared_100_mb_body_is_refused_unread(
    client: httpx.AsyncClient, world: World
) -> None:
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(100):
            sent += 1
            yield b"x" * 1_000_000

    before = world.snapshot()
    headers = {**auth("duty"), "Content-Length": str(100_000_000),
               "Content-Type": "application/json"}  # fmt: skip
    resp = await client.post(actions(world), content=body(), headers=headers)
    assert resp.status_code == 413 and chinese(resp.json()["error"])
    assert sent <= 1, f"{sent} MB of the body were read"
    assert world.snapshot() == before


async def test_an_undeclared_endless_body_is_cut_at_the_limit(
    client: httpx.AsyncClient, world: World, registry: CollectorRegistry
) -> None:
    sent = 0

    async def body() -> AsyncIterator[bytes]:  # chunked: no Content-Length to trust
        nonlocal sent
        for _ in range(100):
            sent += 1
            yield b"[" + b" " * 9_998 + b"]"

    resp = await client.post(actions(world), content=body(), headers=auth("duty"))
    assert resp.status_code == 413 and "上限" in resp.json()["error"]
    assert sent * 10_000 <= MAX_BODY_BYTES + 10_000
    assert registry.get_sample_value(
        "monitor_web_refused_total", {"status": "413", "path": "other"}
    ) == 1


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b'{"kind": "acknowledge", "reason": "\\ud800"}', "JSON"),  # a lone surrogate
        (b'{"kind": "acknowledge", "reason": "\xed\xa0\x80"}', "JSON"),  # its UTF-8 bytes
        (b"[" * 10_000 + b"]" * 10_000, "嵌套"),
        (b'{"a":' * 20 + b"1" + b"}" * 20, "嵌套"),
        (b'{"kind": "acknowledge"', "JSON"),
        (b"\xff\xfe", "JSON"),
    ],
)
async def test_bad_json_is_a_400_in_the_error_shape_and_changes_nothing(
    client: httpx.AsyncClient, world: World, raw: bytes, words: str
) -> None:
    before = world.snapshot()
    headers = {**auth("duty"), "Content-Type": "application/json"}
    resp = await client.post(actions(world), content=raw, headers=headers)
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert set(body) == {"error"} and words in body["error"] and chinese(body["error"])
    assert world.snapshot() == before


async def test_a_surrogate_smuggled_past_json_still_cannot_reach_the_store(
    client: httpx.AsyncClient, world: World
) -> None:
    """The same field written as valid JSON that decodes to valid text is accepted."""
    resp = await client.post(actions(world), json={"kind": "acknowledge", "reason": "收到 ✓"},
                             headers=auth("duty"))  # fmt: skip
    assert resp.status_code == 200, resp.text


def test_depth_is_measured_without_recursion() -> None:
    deep: list[object] = []
    cur = deep
    for _ in range(100_000):
        nxt: list[object] = []
        cur.append(nxt)
        cur = nxt
    assert json_depth(deep) == 100_001
    assert json_depth({"a": [1, {"b": 2}]}) == 3 and json_depth(5) == 0


@pytest.mark.parametrize("path", ["/", "/api/incidents", "/docs", "/metrics", "/api/nowhere"])
async def test_security_headers_everywhere(client: httpx.AsyncClient, path: str) -> None:
    resp = await client.get(path, headers=auth("duty"))
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["x-frame-options"] == "DENY"
    csp = resp.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";")[0]
    if path.startswith("/api/"):
        assert resp.headers["cache-control"] == "no-store"
    if path == "/api/nowhere":
        assert resp.status_code == 404 and chinese(resp.json()["error"])


async def test_api_refusals_are_not_cached_either(client: httpx.AsyncClient) -> None:
    resp = await client.get("/api/incidents")
    assert resp.status_code == 401 and resp.headers["cache-control"] == "no-store"


async def test_the_dashboard_page_has_no_inline_script(client: httpx.AsyncClient) -> None:
    page = (await client.get("/")).text
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "inline script: CSP blocks it"
    assert (await client.get("/")).headers["content-security-policy"] == CSP


async def test_swagger_ui_is_served_from_here(client: httpx.AsyncClient) -> None:
    page = (await client.get("/docs")).text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and all(a.startswith("/") for a in assets), assets  # nothing from a CDN
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page)
    for asset in assets:
        resp = await client.get(asset)
        assert resp.status_code == 200, asset
    bundle = await client.get("/static/swagger/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in bundle.text


ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=8)  # surrogates too
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3),
    max_leaves=10,
)
# a valid acknowledgement with one free-text field set to anything, so bad text reaches the
# recording path instead of being refused for another reason first
ONE_TEXT = st.builds(
    lambda field, text: {"kind": "acknowledge", field: text},
    st.sampled_from(["reason", "channel", "place", "id", "note"]), ANY_TEXT.filter(bool),
)


@given(body=st.one_of(JSON, ONE_TEXT))
@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
async def test_any_json_body_gets_an_answer_never_a_crash(
    client: httpx.AsyncClient, world: World, body: object
) -> None:
    raw = json.dumps(body).encode()  # ASCII with \\uXXXX escapes: lone surrogates pass through
    headers = {**auth("duty"), "Content-Type": "application/json"}
    resp = await client.post(actions(world), content=raw, headers=headers)
    assert resp.status_code < 500, resp.text
    assert "error" in resp.json() or resp.status_code == 200
