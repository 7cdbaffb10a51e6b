"""A bounded background queue for the slow inversions (filter textures, optimisation), one worker thread.

The worker runs at a lower CPU priority (``nice`` + 10 on Linux, per thread), so a slider move on the live
decoder is served first even while a texture is being optimised. Bounds, so one client cannot exhaust the
machine: at most ``max_pending`` jobs wait, each runs at most ``max_steps`` steps, and only the last
``keep_done`` finished jobs (a 64- or 224-px PNG each) are kept.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from preimage.errors import PreimageError
from preimage.explore.inverters import Cancelled
from preimage.explore.uploads import encode_png

log = logging.getLogger("preimage.explore")

# a job's work: given a per-step callback, return the result image (1, 3, H, W) or (3, H, W)
Work = Callable[[Callable[[], None]], torch.Tensor]


class QueueFull(PreimageError):
    """The queue holds ``max_pending`` jobs already."""


@dataclass
class Job:
    id: str
    kind: str
    label: str
    steps: int
    work: Work
    status: str = "queued"  # queued | running | done | failed | cancelled
    step: int = 0
    error: str | None = None
    png: bytes | None = None
    created: float = field(default_factory=time.monotonic)
    started: float | None = None
    seconds: float | None = None  # how long it ran (not how long it waited)
    cancel: threading.Event = field(default_factory=threading.Event)

    def as_dict(self, position: int | None = None) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "status": self.status,
            "step": self.step,
            "steps": self.steps,
            "progress": 1.0 if self.status == "done" else min(1.0, self.step / max(1, self.steps)),
            "position": position,
            "error": self.error,
            "seconds": self.seconds,
            "url": f"/api/jobs/{self.id}.png" if self.png is not None else None,
        }


class JobQueue:
    """First in, first out; :meth:`submit` refuses when full, :meth:`cancel` stops a job at its next step."""

    def __init__(self, max_pending: int = 8, max_steps: int = 1000, keep_done: int = 32, nice: int = 10) -> None:
        self.max_pending, self.max_steps, self.keep_done, self.nice = max_pending, max_steps, keep_done, nice
        self._jobs: dict[str, Job] = {}
        self._waiting: deque[Job] = deque()
        self._done: deque[str] = deque()
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="preimage-explore-jobs", daemon=True)
        self._thread.start()

    def submit(self, kind: str, label: str, steps: int, work: Work) -> Job:
        if not 1 <= steps <= self.max_steps:
            raise PreimageError(f"steps must be between 1 and {self.max_steps}, got {steps}")
        with self._cond:
            if len(self._waiting) >= self.max_pending:
                raise QueueFull(
                    f"the job queue is full ({self.max_pending} jobs waiting) — wait for one to finish or cancel one"
                )
            job = Job(f"j{next(self._ids)}", kind, label, steps, work)
            self._jobs[job.id] = job
            self._waiting.append(job)
            self._cond.notify()
        log.info("job %s queued: %s %s, %d steps", job.id, kind, label, steps)
        return job

    def get(self, job_id: str) -> Job:
        with self._cond:
            job = self._jobs.get(job_id)
        if job is None:
            raise PreimageError(f"no job {job_id!r} (finished jobs are kept for the last {self.keep_done})")
        return job

    def cancel(self, job_id: str) -> Job:
        job = self.get(job_id)
        with self._cond:
            job.cancel.set()
            if job in self._waiting:
                self._waiting.remove(job)
                self._finish(job, "cancelled")
        return job

    def snapshot(self) -> list[dict[str, Any]]:
        """Every job held, oldest first, with its place in the queue (0 = next)."""
        with self._cond:
            places = {job.id: i for i, job in enumerate(self._waiting)}
            return [job.as_dict(places.get(job.id)) for job in self._jobs.values()]

    def pending(self) -> int:
        with self._cond:
            return len(self._waiting)

    def close(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._closed = True
            for job in self._jobs.values():
                job.cancel.set()
            self._cond.notify_all()
        self._thread.join(timeout)

    def wait(self, job_id: str, timeout: float = 60.0) -> Job:
        """Block until the job has finished (tests, scripts)."""
        deadline = time.monotonic() + timeout
        job = self.get(job_id)
        while job.status in ("queued", "running"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job.status} after {timeout} s")
            time.sleep(0.02)
        return job

    def _finish(self, job: Job, status: str) -> None:
        """Mark ``job`` finished and forget the oldest finished jobs beyond ``keep_done`` (lock held)."""
        job.status = status
        if job.started is not None:
            job.seconds = round(time.monotonic() - job.started, 2)
        self._done.append(job.id)
        while len(self._done) > self.keep_done:
            self._jobs.pop(self._done.popleft(), None)

    def _run(self) -> None:
        with contextlib.suppress(OSError, AttributeError):  # per-thread priority: Linux only
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.nice)
        while True:
            with self._cond:
                while not self._waiting and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                job = self._waiting.popleft()
                job.status, job.started = "running", time.monotonic()
            self._execute(job)

    def _execute(self, job: Job) -> None:
        def on_step() -> None:
            if job.cancel.is_set():
                raise Cancelled
            job.step += 1

        status = "done"
        try:
            with torch.enable_grad():
                image = job.work(on_step)
            job.png = encode_png(image[0] if image.dim() == 4 else image)
        except Cancelled:
            status = "cancelled"
        except PreimageError as err:
            status, job.error = "failed", str(err)
        except Exception as err:  # a bug: the job fails, the server and the queue go on
            status, job.error = "failed", f"internal error ({type(err).__name__}: {err})"
            log.exception("job %s failed", job.id)
        with self._cond:
            self._finish(job, status)
        log.info("job %s %s after %.1f s (%d steps)", job.id, status, job.seconds or 0.0, job.step)
