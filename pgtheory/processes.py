"""Worker processes for independent units of work (checks, training runs).

Two pools. :func:`process_pool` is a plain executor for work that cannot fail in odd ways
(003's program runs). :func:`run_isolated` runs tasks that may misbehave (a check that loops,
calls ``os._exit`` or is killed): each task runs in a worker of its own process group with a
time budget; a worker that dies or overruns is killed with everything it started, replaced,
and its task reported as lost, while every other task goes on. Interrupting the parent stops
every worker before the exception leaves :func:`run_isolated`.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.connection import wait
from typing import Any

#: Seconds a stopped worker gets to exit after SIGTERM before SIGKILL.
GRACE_SECONDS = 2.0


def _one_torch_thread() -> None:
    import torch

    torch.set_num_threads(1)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """``workers`` fresh processes with one torch thread each. Fresh ("spawn"), because forking
    a process whose torch thread pool has started can deadlock; one thread, so that N workers
    use N cores without oversubscription and a result does not depend on which worker (or how
    many) computed it."""
    return ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=_one_torch_thread
    )


@dataclass(frozen=True)
class Task:
    """``function(*args)`` in a worker, stopped after ``timeout`` seconds (``None``: never)."""

    function: Callable[..., Any]
    args: tuple[Any, ...]
    timeout: float | None = None


@dataclass(frozen=True)
class TaskResult:
    """What became of task number ``index``: its ``value``, or why there is none."""

    index: int
    value: Any = None
    failure: str | None = None  # "timed out after ...", "worker died ...", a traceback line


def _watch_parent() -> None:
    """In a worker: when the parent dies, take down this worker's process group (the worker
    and anything it started), so that no process outlives the run."""
    parent = multiprocessing.parent_process()
    if parent is not None:
        wait([parent.sentinel])
        os.killpg(0, signal.SIGKILL)


def _worker(conn: Connection) -> None:
    os.setpgrp()  # its own group: the parent can stop it with everything it started
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl-C does
    _one_torch_thread()
    threading.Thread(target=_watch_parent, daemon=True).start()
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        index, function, args = message
        conn.send(("started", index, None))
        try:
            reply = ("done", index, function(*args))
        except BaseException as exc:
            reply = ("failed", index, _one_line(exc))
        try:
            conn.send(reply)
        except Exception as exc:  # the value did not pickle
            conn.send(("failed", index, f"result cannot be sent back: {_one_line(exc)}"))


def _one_line(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


class _Worker:
    def __init__(self, context: Any) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker, args=(child,), daemon=False)
        self.process.start()
        child.close()
        self.task: int | None = None
        self.deadline = float("inf")

    def stop(self) -> None:
        """Stop the worker and its process group: SIGTERM, then SIGKILL after a grace."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            _signal_group(self.process.pid, sig)
            self.process.join(GRACE_SECONDS if sig == signal.SIGTERM else None)
            if not self.process.is_alive():
                break
        _signal_group(self.process.pid, signal.SIGKILL)  # the group may outlive its leader
        self.conn.close()


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def run_isolated(tasks: Sequence[Task], workers: int) -> Iterator[TaskResult]:
    """Run ``tasks`` on ``workers`` fresh processes (spawn, one torch thread each) and yield a
    :class:`TaskResult` per task as it ends, in the order they end. A task that raises,
    overruns its timeout or loses its worker yields a ``failure``; its worker is replaced.
    Closing the generator (or an exception in the caller, e.g. Ctrl-C) stops every worker."""
    context = multiprocessing.get_context("spawn")
    pending = list(range(len(tasks)))[::-1]
    pool: list[_Worker] = []
    remaining = len(tasks)
    try:
        pool = [_Worker(context) for _ in range(min(workers, len(tasks)))]
        while remaining:
            for w in pool:
                if w.task is None and pending:
                    w.task = pending.pop()
                    w.deadline = float("inf")  # the clock starts when the worker says so
                    task = tasks[w.task]
                    w.conn.send((w.task, task.function, task.args))
            now = time.monotonic()
            soonest = min((w.deadline for w in pool), default=float("inf"))
            ready = wait(
                [w.conn for w in pool] + [w.process.sentinel for w in pool],
                timeout=None if soonest == float("inf") else max(0.0, soonest - now),
            )
            for i, w in enumerate(pool):
                result: TaskResult | None = None
                if w.conn in ready:
                    try:
                        kind, index, value = w.conn.recv()
                    except (EOFError, OSError):
                        kind = "dead"
                    if kind == "started":
                        timeout = tasks[index].timeout
                        w.deadline = time.monotonic() + timeout if timeout else float("inf")
                        continue
                    if kind == "done":
                        result = TaskResult(index, value=value)
                    elif kind == "failed":
                        result = TaskResult(index, failure=value)
                    if result is not None:
                        w.task, w.deadline = None, float("inf")
                        remaining -= 1
                        yield result
                        continue
                if w.process.sentinel in ready or not w.process.is_alive():
                    w.process.join(GRACE_SECONDS)  # reaped, so that its exit code is known
                    failure = f"worker process died (exit code {w.process.exitcode})"
                elif time.monotonic() >= w.deadline:
                    failure = f"timed out after {tasks[w.task].timeout:g} s"
                else:
                    continue
                lost = w.task
                w.stop()
                pool[i] = _Worker(context)
                if lost is not None:
                    remaining -= 1
                    yield TaskResult(lost, failure=failure)
    finally:
        for w in pool:
            w.stop()
