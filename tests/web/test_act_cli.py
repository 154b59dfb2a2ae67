"""`monitor act` asks the same permissions table as the API: the CLI user acts as duty staff
unless told `--role department --body NAME`; a refused answer changes nothing."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from monitor.cli.main import main
from monitor.runtime.datadir import Runtime
from monitor.runtime.producer import ensure_topics
from tests.web.conftest import World

pytestmark = pytest.mark.broker


@pytest.fixture
def running(broker: Any, world: World, tmp_path: Path) -> Path:
    """A data dir whose runtime.json names this process, the test broker and the store."""
    prefix = f"c{uuid.uuid4().hex[:8]}"
    asyncio.run(ensure_topics(broker.url, prefix, 2))
    directory = tmp_path / "data"
    directory.mkdir()
    Runtime(broker=broker.url, prefix=prefix, partitions=2, db=world.store.url, web_port=None,
            pid=os.getpid()).write(directory)  # fmt: skip
    return directory


def act(directory: Path, *args: str) -> int:
    return main(["act", "--data-dir", str(directory), *args])


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        pytest.param(["close", "--reason", "已处置", "--role", "department", "--body", "市应急管理局"],
                     "仅限值班人员", id="a department may not close"),
        pytest.param(["release", "--url", "https://x.cn/1", "--at", "2000-01-01T08:00:00+08:00"],
                     "before the incident's first post", id="a release dated 2000"),
    ],
)  # fmt: skip
def test_a_refused_answer_from_the_cli_changes_nothing(
    running: Path, world: World, capsys: pytest.CaptureFixture[str], answer: list[str], says: str
) -> None:
    before = world.snapshot()
    assert act(running, world.blast.id, *answer) == 2
    assert says in capsys.readouterr().err
    assert world.snapshot() == before


def test_a_departments_own_release_is_recorded(
    running: Path, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code = act(running, world.blast.id, "release", "--url", "https://x.cn/1", "--role",
               "department", "--body", "市应急管理局", "--by", "应急局")  # fmt: skip
    assert code == 0, capsys.readouterr().err
    [audit] = world.store.audit_rows()
    assert (audit["who"], audit["what"]) == ("应急局", "act:release")
