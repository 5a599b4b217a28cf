"""Results of every process on the main one (detectron2 ``comm``), for the evaluators."""

from __future__ import annotations

from typing import Any, List, Optional

__all__ = ["gather_on_main"]


def gather_on_main(items: List[Any], distributed: bool = True) -> Optional[List[Any]]:
    """``items`` of all ranks concatenated in rank order on the main process, None on the others
    (``items`` itself when not ``distributed``)."""
    if not distributed:
        return list(items)
    from detectron2.utils import comm

    comm.synchronize()
    gathered = comm.gather(items, dst=0)
    if not comm.is_main_process():
        return None
    return [x for part in gathered for x in part]
