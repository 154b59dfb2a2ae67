"""The duty dashboard in headless Chromium against a real uvicorn and a real store: it lists
the incident with its Chinese grade label, and its countdown moves."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from prometheus_client import CollectorRegistry

from monitor.web.auth import Users
from monitor.web.status import create_app
from tests.web.conftest import TOKENS, World, skip_or_fail
from tests.web.test_notify_metrics import free_port

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


@pytest.fixture
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        skip_or_fail("chromium not installed (scripts/install-system-deps.sh installs it)")
    assert path is not None
    return path


@pytest.fixture
def served(world: World, users: Users) -> Iterator[str]:
    app = create_app(world.store, CollectorRegistry(), users=users, send=world.send)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def dump(chromium: str, url: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        out = subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
             "--virtual-time-budget=4000", "--dump-dom", url],
            capture_output=True, text=True, timeout=90, check=True,
        )  # fmt: skip
    return out.stdout


def countdowns(dom: str, incident: str) -> list[str]:
    row = re.search(rf'<tr data-incident="{re.escape(incident)}">(.*?)</tr>', dom, re.S)
    assert row, f"incident {incident} not listed:\n{dom[:3000]}"
    return re.findall(r'<span class="countdown[^"]*"[^>]*>([^<]*)</span>', row.group(1))


def test_dashboard_lists_incident_with_a_running_countdown(
    chromium: str, served: str, world: World, tmp_path: Path
) -> None:
    url = f"{served}/?token={TOKENS['duty']}"
    first = dump(chromium, url)
    assert "当前用户：值班员甲" in first
    assert world.blast.title in first
    assert "II级（重大）" in first
    before = countdowns(first, world.blast.id)
    release = [t for t in before if t.startswith("权威信息发布")]
    assert release and re.match(r"权威信息发布：剩余 [34]小时\d\d分\d\d秒", release[0]), before
    time.sleep(1.5)
    after = countdowns(dump(chromium, url), world.blast.id)
    assert after != before  # the clock on screen moved


def test_dashboard_without_a_token_asks_for_one(chromium: str, served: str) -> None:
    dom = dump(chromium, served + "/")
    assert 'id="login" class=""' in dom or '<form id="login">' in dom
    assert "加载中" in dom  # nothing listed without a token


def test_incident_page_shows_timeline_and_form(chromium: str, served: str, world: World) -> None:
    dom = dump(chromium, f"{served}/?token={TOKENS['duty']}#incident/{world.blast.id}")
    detail = dom[dom.index('id="detail-view"') :]
    assert detail.startswith('id="detail-view" class=""')  # shown
    assert "事件生成：II级（重大）" in detail  # the timeline from the store
    assert '<form id="act-form">' in detail  # duty may act: the form is not hidden
    assert "剩余" in detail
    leader = dump(chromium, f"{served}/?token={TOKENS['leader']}#incident/{world.blast.id}")
    assert "事件生成" in leader and '<form id="act-form" class="hidden">' in leader  # read-only
