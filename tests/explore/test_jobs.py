"""The job queue's bounds and cancellation, with work that waits on events (no optimisation, no timing luck)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
import torch

from preimage.errors import PreimageError
from preimage.explore.jobs import JobQueue, QueueFull


@pytest.fixture
def queue() -> Iterator[JobQueue]:
    q = JobQueue(max_pending=2, max_steps=100, keep_done=3)
    yield q
    q.close()


def gated(gate: threading.Event, steps: int = 3) -> Callable[[Callable[[], None]], torch.Tensor]:
    """Work that takes ``steps`` steps, waiting for ``gate`` before each."""

    def work(on_step: Callable[[], None]) -> torch.Tensor:
        for _ in range(steps):
            assert gate.wait(10)
            on_step()
        return torch.full((1, 3, 8, 8), 0.5)

    return work


def test_queue_refuses_beyond_its_length_and_runs_in_order(queue: JobQueue) -> None:
    gate = threading.Event()
    first = queue.submit("t", "first", 3, gated(gate))
    while first.status != "running":
        threading.Event().wait(0.01)
    waiting = [queue.submit("t", f"w{i}", 3, gated(gate)) for i in range(2)]
    with pytest.raises(QueueFull, match="queue is full"):
        queue.submit("t", "one too many", 3, gated(gate))
    places = {j["label"]: j["position"] for j in queue.snapshot()}
    assert places == {"first": None, "w0": 0, "w1": 1}
    gate.set()
    for job in (first, *waiting):
        assert queue.wait(job.id).status == "done"
        assert job.step == 3 and job.png is not None and job.png.startswith(b"\x89PNG")


def test_steps_are_bounded(queue: JobQueue) -> None:
    with pytest.raises(PreimageError, match="between 1 and 100"):
        queue.submit("t", "too long", 101, gated(threading.Event()))


def test_cancel_stops_a_running_job_at_its_next_step_and_drops_a_queued_one(queue: JobQueue) -> None:
    gate = threading.Event()
    running = queue.submit("t", "running", 50, gated(gate, 50))
    while running.status != "running":
        threading.Event().wait(0.01)
    queued = queue.submit("t", "queued", 3, gated(gate))
    assert queue.cancel(queued.id).status == "cancelled"
    queue.cancel(running.id)
    gate.set()
    assert queue.wait(running.id).status == "cancelled"
    assert running.png is None and running.step < 50


def test_a_failing_job_reports_its_error_and_the_queue_goes_on(queue: JobQueue) -> None:
    def broken(on_step: Callable[[], None]) -> torch.Tensor:
        raise PreimageError("this representation cannot do that")

    def bug(on_step: Callable[[], None]) -> torch.Tensor:
        raise ZeroDivisionError("oops")

    failed = queue.wait(queue.submit("t", "broken", 1, broken).id)
    assert failed.status == "failed" and failed.error == "this representation cannot do that"
    crashed = queue.wait(queue.submit("t", "bug", 1, bug).id)
    assert crashed.status == "failed" and "ZeroDivisionError" in str(crashed.error)
    gate = threading.Event()
    gate.set()
    assert queue.wait(queue.submit("t", "after", 1, gated(gate, 1)).id).status == "done"


def test_only_the_last_finished_jobs_are_kept(queue: JobQueue) -> None:
    gate = threading.Event()
    gate.set()
    ids = []
    for i in range(5):
        job = queue.submit("t", f"j{i}", 1, gated(gate, 1))
        queue.wait(job.id)
        ids.append(job.id)
    assert [j["id"] for j in queue.snapshot()] == ids[-3:]
    with pytest.raises(PreimageError, match="no job"):
        queue.get(ids[0])


def test_code_cache_is_bounded_by_bytes() -> None:
    from preimage.explore.state import LRU, tensor_bytes

    cache: LRU[str, torch.Tensor] = LRU(10_000, tensor_bytes)
    for i in range(5):
        cache.put(f"c{i}", torch.zeros(1000))  # 4000 bytes each: two fit
    assert len(cache) == 2 and cache.total == 8000
    assert cache.get("c4") is not None and cache.get("c2") is None
    cache.put("huge", torch.zeros(10_000))  # larger than the whole cache: kept alone, as the newest
    assert len(cache) == 1 and cache.get("huge") is not None
