"""A process pool over independent jobs that never hangs on a failed or killed worker."""

from __future__ import annotations

import multiprocessing as mp
from typing import Any, Callable, List, Sequence

__all__ = ["map_jobs"]


def _worker_init() -> None:
    import cv2

    cv2.setNumThreads(1)


def _run_pool(fn: Callable[[Any], Any], jobs: Sequence[Any], order: Sequence[int], num_workers: int) -> List[Any]:
    from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else None)
    out: List[Any] = [None] * len(jobs)
    pool = ProcessPoolExecutor(min(num_workers, len(jobs)), mp_context=ctx, initializer=_worker_init)
    try:
        futures = {pool.submit(fn, jobs[i]): i for i in order}
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for f in done:
            if f.exception() is not None:
                raise f.exception()
        for f, i in futures.items():
            out[i] = f.result()
    except BaseException:  # an error, Ctrl-C or a timeout: stop the workers, do not wait for them
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return out


def map_jobs(fn: Callable[[Any], Any], jobs: Sequence[Any], num_workers: int, costs: Sequence[float]) -> List[Any]:
    """Run ``fn`` over ``jobs`` with a process pool (largest ``costs`` first), results in job order.

    ``concurrent.futures`` rather than ``multiprocessing.Pool``: an exception in a worker is raised
    here (the first one, in job order of completion) and a worker that dies (killed, out of memory)
    raises ``BrokenProcessPool`` instead of hanging the pool. One job or worker: no pool.
    """
    if num_workers <= 1 or len(jobs) <= 1:
        return [fn(j) for j in jobs]
    import cv2

    order = sorted(range(len(jobs)), key=lambda i: -costs[i])
    # OpenCV's thread pool does not survive fork: a forked child that touches it (setNumThreads,
    # or any parallel cv2 call) deadlocks when the parent's pool threads were running (e.g. after
    # a model ran in this process). Stop them before forking; restored afterwards.
    cv2_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        return _run_pool(fn, jobs, order, num_workers)
    finally:
        cv2.setNumThreads(cv2_threads)
