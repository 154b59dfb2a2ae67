"""The pieces of streams/ that make Faust cheaper per record, without a broker."""

from __future__ import annotations

import asyncio

import pytest

from streams.stages import chunks as _chunks
from streams.tuning import _Started


def test_chunks_keep_order_and_stay_under_the_limit() -> None:
    items = [b"a" * 40, b"b" * 40, b"c" * 40, b"d" * 200, b"e" * 10]
    runs = list(_chunks(items, 100))
    assert [b for run in runs for b in run] == items
    assert runs == [[b"a" * 40, b"b" * 40], [b"c" * 40], [b"d" * 200], [b"e" * 10]]


def test_chunks_of_nothing() -> None:
    assert list(_chunks([], 100)) == []


async def _two_steps(fut: asyncio.Future[int]) -> int:
    got = await fut
    return got + 1


def test_a_started_coroutine_finishes_where_it_stopped() -> None:
    async def main() -> int:
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        coro = _two_steps(fut)
        blocked_on = coro.send(None)  # runs up to `await fut`
        task = asyncio.ensure_future(_Started(coro, blocked_on))
        await asyncio.sleep(0)
        assert not task.done()
        fut.set_result(41)
        return await task

    assert asyncio.run(main()) == 42


def test_cancelling_a_started_coroutine_cancels_it_inside() -> None:
    seen: list[str] = []

    async def body(fut: asyncio.Future[int]) -> None:
        try:
            await fut
        except asyncio.CancelledError:
            seen.append("cancelled inside")
            raise

    async def main() -> None:
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        coro = body(fut)
        task = asyncio.ensure_future(_Started(coro, coro.send(None)))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert seen == ["cancelled inside"]


def test_a_worker_ticks_only_the_partitions_it_holds() -> None:
    from types import SimpleNamespace

    from faust.types import TP

    from streams.app import owned_partitions

    held = {TP("p.posts.classified", 0), TP("p.posts.classified", 3), TP("p.posts.raw", 1)}
    app = SimpleNamespace(assignor=SimpleNamespace(assigned_actives=lambda: held))
    assert owned_partitions(app, "p.posts.classified") == {0, 3}  # type: ignore[arg-type]
    assert owned_partitions(app, "p.actions") == set()  # type: ignore[arg-type]


# --- the private patches, pinned and checked -------------------------------------------------


def test_the_patched_libraries_are_the_pinned_versions() -> None:
    """streams/tuning.py overrides private methods: an upgrade must be a deliberate change."""
    import tomllib
    from importlib.metadata import version
    from pathlib import Path

    from streams.tuning import PATCHED

    deps = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    pinned = set(deps["project"]["dependencies"])
    for dist, want in PATCHED.items():
        assert version(dist) == want, f"{dist} {version(dist)} installed; tuning.py is for {want}"
        assert f"{dist}=={want}" in pinned


async def test_the_fast_fetch_consumer_waits_briefly_for_an_empty_fetch() -> None:
    import inspect

    from aiokafka import AIOKafkaConsumer

    from streams.tuning import FETCH_MAX_WAIT_MS, FastFetchApp, QuietMonitor, _FastFetchConsumer

    app = FastFetchApp("tuning-test", broker="kafka://127.0.0.1:9", web_enabled=False)
    assert isinstance(app.consumer, _FastFetchConsumer)
    assert isinstance(app.monitor, QuietMonitor)
    thread = app.consumer._new_consumer_thread()
    consumer = thread._create_worker_consumer(app.transport)
    try:
        assert consumer._fetch_max_wait_ms == FETCH_MAX_WAIT_MS
        # and aiokafka still builds its fetcher from that attribute when it starts
        assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in inspect.getsource(
            AIOKafkaConsumer.start
        )
    finally:
        await consumer.stop()


def test_faust_still_hands_messages_over_through_wait_first() -> None:
    """_FastFetchConsumer.wait_first runs the hand-over inline; it must still be the path."""
    import inspect

    from faust.transport import consumer

    assert "wait_first(" in inspect.getsource(consumer)
    assert "suspend_flow.wait()" in inspect.getsource(consumer)
