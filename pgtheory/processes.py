"""Worker processes for independent units of work (claims, training runs)."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import torch


def process_pool(workers: int) -> ProcessPoolExecutor:
    """``workers`` fresh processes with one torch thread each. Fresh ("spawn"), because forking
    a process whose torch thread pool has started can deadlock; one thread, so that N workers
    use N cores without oversubscription and a result does not depend on which worker (or how
    many) computed it."""
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=torch.set_num_threads,
        initargs=(1,),
    )
