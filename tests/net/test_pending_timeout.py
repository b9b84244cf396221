"""The wait for a request's responses: each wait bounded by the DIMSE timeout, with one timer per request that
the waits move (net.association._Pending)."""

from __future__ import annotations

import asyncio

import pytest

from dicomkit.net.association import _Pending


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_replies_that_keep_coming_never_time_out_though_all_take_longer_than_the_timeout():
    async def main():
        loop = asyncio.get_running_loop()
        pending = _Pending(1)
        got = []
        for i in range(12):  # one reply every 50 ms, 0.6 s in all, each wait bounded by 0.2 s
            loop.call_later(0.05, pending.put, i)
            got.append(await pending.get(loop, 0.2))
        timer = pending.timer
        pending.close()
        return got, timer, pending.timer

    got, timer, after = run(main())
    assert got == list(range(12))
    assert timer is not None and timer.cancelled() and after is None  # close() removes the one timer


def test_a_wait_with_no_reply_times_out_and_the_replies_before_it_are_kept():
    async def main():
        loop = asyncio.get_running_loop()
        pending = _Pending(1)
        pending.put("first")
        first = await pending.get(loop, 0.1)  # already there: no timer
        assert pending.timer is None
        with pytest.raises(TimeoutError):
            await pending.get(loop, 0.1)
        pending.put("late")  # a reply after the timeout is still there for whoever asks
        return first, await pending.get(loop, None)

    assert run(main()) == ("first", "late")


def test_a_shorter_timeout_after_a_longer_one_is_kept():
    async def main():
        loop = asyncio.get_running_loop()
        pending = _Pending(1)
        loop.call_later(0.01, pending.put, "a")
        await pending.get(loop, 60)  # leaves a timer 60 s ahead
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(pending.get(loop, 0.05), 10)  # must not wait for the 60 s timer
        pending.close()

    run(main())


def test_a_waiter_cancelled_from_outside_leaves_no_wait_behind():
    async def main():
        loop = asyncio.get_running_loop()
        pending = _Pending(1)
        task = asyncio.ensure_future(pending.get(loop, 5))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert pending.waiter is None
        pending.put("next")
        value = await pending.get(loop, 5)
        pending.close()
        return value

    assert run(main()) == "next"
