"""The pieces of streams/ that make Faust cheaper per record, without a broker."""

from __future__ import annotations

import asyncio

import pytest

from streams.app import _chunks
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
