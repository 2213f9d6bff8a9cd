"""The micro-batcher with a fake model function: who shares a call, and who gets which answer."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from word_predictor.server.batching import MicroBatcher


class FakeModel:
    """Answers each item with (item, the call's number); records every call's items and thread."""

    def __init__(self, seconds: float = 0.0):
        self.calls: list[list] = []
        self.threads: set[str] = set()
        self.seconds = seconds

    def __call__(self, items: list) -> list:
        self.calls.append(list(items))
        self.threads.add(threading.current_thread().name)
        time.sleep(self.seconds)
        return [(item, len(self.calls)) for item in items]


def gather(batcher: MicroBatcher, items) -> list:
    async def main():
        return await asyncio.gather(*(batcher.submit(item) for item in items))

    return asyncio.run(main())


def test_concurrent_requests_share_one_call_and_each_gets_its_own_answer():
    model = FakeModel()
    batcher = MicroBatcher(model, max_wait=0.005)
    answers = gather(batcher, range(20))
    assert model.calls == [list(range(20))]
    assert answers == [(item, 1) for item in range(20)]
    assert batcher.calls == 1 and batcher.answered == 20


def test_the_model_runs_off_the_event_loop_in_one_worker_thread():
    model = FakeModel()
    batcher = MicroBatcher(model)
    gather(batcher, range(3))
    gather(batcher, range(3))
    assert model.threads and threading.main_thread().name not in model.threads
    assert len(model.threads) == 1


def test_requests_arriving_while_the_model_is_busy_go_together_in_the_next_call():
    model = FakeModel(seconds=0.05)

    async def main():
        batcher = MicroBatcher(model, max_wait=0)
        first = asyncio.create_task(batcher.submit("first"))
        await asyncio.sleep(0.01)  # the first call is running now
        later = [asyncio.create_task(batcher.submit(n)) for n in range(5)]
        return await first, await asyncio.gather(*later)

    first, later = asyncio.run(main())
    assert model.calls == [["first"], [0, 1, 2, 3, 4]]
    assert first == ("first", 1) and later == [(n, 2) for n in range(5)]


def test_batches_are_cut_at_max_batch_in_order():
    model = FakeModel()
    answers = gather(MicroBatcher(model, max_batch=4), range(10))
    assert model.calls == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [item for item, _ in answers] == list(range(10))


def test_disabled_batching_makes_one_call_per_request():
    model = FakeModel()
    answers = gather(MicroBatcher(model, enabled=False), range(6))
    assert model.calls == [[n] for n in range(6)]
    assert [item for item, _ in answers] == list(range(6))


def test_an_exception_as_a_result_fails_only_its_own_request():
    def model(items):
        return [ValueError(f"bad {item}") if item == 2 else item * 10 for item in items]

    async def main():
        batcher = MicroBatcher(model)
        return await asyncio.gather(*(batcher.submit(n) for n in range(4)), return_exceptions=True)

    answers = asyncio.run(main())
    assert answers[:2] == [0, 10] and answers[3] == 30
    assert isinstance(answers[2], ValueError) and str(answers[2]) == "bad 2"


def test_a_failing_call_fails_its_batch_and_the_batcher_goes_on():
    calls = []

    def model(items):
        calls.append(items)
        if len(calls) == 1:
            raise RuntimeError("model broke")
        return items

    async def main():
        batcher = MicroBatcher(model)
        broken = await asyncio.gather(batcher.submit(1), batcher.submit(2), return_exceptions=True)
        return broken, await batcher.submit(3)

    broken, after = asyncio.run(main())
    assert [str(error) for error in broken] == ["model broke", "model broke"]
    assert after == 3


def test_a_wrong_number_of_results_is_an_error_not_a_mixup():
    async def main():
        batcher = MicroBatcher(lambda items: items[:-1])
        return await asyncio.gather(batcher.submit(1), batcher.submit(2), return_exceptions=True)

    answers = asyncio.run(main())
    assert all(isinstance(answer, RuntimeError) for answer in answers)


def test_a_cancelled_request_is_left_out_of_the_call():
    model = FakeModel(seconds=0.05)

    async def main():
        batcher = MicroBatcher(model, max_wait=0)
        first = asyncio.create_task(batcher.submit("busy"))
        await asyncio.sleep(0.01)
        gone = asyncio.create_task(batcher.submit("gone"))
        kept = asyncio.create_task(batcher.submit("kept"))
        await asyncio.sleep(0)
        gone.cancel()
        return await first, await kept

    assert asyncio.run(main()) == (("busy", 1), ("kept", 2))
    assert model.calls == [["busy"], ["kept"]]


@pytest.mark.parametrize("settings", [{"max_wait": -1}, {"max_batch": 0}])
def test_settings_that_make_no_batcher_are_refused(settings):
    with pytest.raises(ValueError):
        MicroBatcher(FakeModel(), **settings)
