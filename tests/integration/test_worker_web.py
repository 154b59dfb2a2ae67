"""A worker's /metrics: served on the address asked for, with or without a store."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from monitor.runtime.broker import BundledBroker, free_port
from monitor.runtime.producer import ensure_topics
from tests.integration.helpers import PARTITIONS, stop, wait_for

pytestmark = pytest.mark.broker


def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url, timeout=2)
    except httpx.TransportError:
        return None


def test_a_worker_without_a_store_still_serves_metrics(
    broker: BundledBroker, prefix: str, tmp_path: Path
) -> None:
    asyncio.run(ensure_topics(broker.url, prefix, PARTITIONS))
    port = free_port()
    cmd = [sys.executable, "-m", "monitor", "worker", "--broker", broker.url, "--prefix", prefix,
           "--partitions", str(PARTITIONS), "--port", str(port), "--host", "127.0.0.1"]  # fmt: skip
    with open(tmp_path / "worker.log", "wb") as log:
        worker = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _get(f"{url}/metrics") is not None, 60, "/metrics", [worker])
        metrics = _get(f"{url}/metrics")
        page = _get(f"{url}/")
    finally:
        stop(worker)
    assert metrics is not None and metrics.status_code == 200
    assert "monitor_posts_total" in metrics.text
    assert page is not None and page.status_code == 404, "no store: no dashboard to show"
