"""Training hooks and event writers beyond detectron2's: CPU-time accounting (budgets in the issues
are CPU-minutes) and a ``metrics.json`` writer that never leaves a partial line."""

import json
import os
import time
from pathlib import Path
from typing import Any, Dict, List

from detectron2.engine import HookBase
from detectron2.utils.events import EventWriter, get_event_storage

from uvmos.utils.file_io import atomic_write_bytes

__all__ = ["CPUTimeHook", "cpu_seconds", "AtomicJSONWriter"]


def _live_children_cpu_seconds(pid: int) -> float:
    """User+system CPU seconds of the live descendants of ``pid`` (Linux /proc; 0 elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total, stack, seen = 0.0, [pid], set()
    while stack:
        p = stack.pop()
        for children in Path(f"/proc/{p}/task").glob("*/children"):
            try:
                kids = [int(c) for c in children.read_text().split()]
            except OSError:
                continue
            for c in kids:
                if c in seen:
                    continue
                seen.add(c)
                stack.append(c)
                try:
                    # fields after the ")" closing the command name: state is field 3, utime 14, stime 15
                    fields = Path(f"/proc/{c}/stat").read_text().rsplit(")", 1)[1].split()
                    total += (int(fields[11]) + int(fields[12])) / tick
                except (OSError, IndexError, ValueError):
                    continue
    return total


def cpu_seconds() -> float:
    """CPU seconds used so far by this process (all threads) and its child processes: live ones
    (data-loader workers, read from /proc) and finished ones (``os.times().children_*``)."""
    t = os.times()
    return time.process_time() + t.children_user + t.children_system + _live_children_cpu_seconds(os.getpid())


class CPUTimeHook(HookBase):
    """Log the run's cumulative CPU minutes as ``cpu_minutes``: this process (all threads) plus its
    data-loader worker processes, so a budget in CPU-minutes counts everything the run burns.

    Resuming adds the CPU time recorded in the checkpoint's storage history, so the figure is the
    whole run's, not just the last segment's.
    """

    def __init__(self, period: int = 20):
        self._period = period
        self._offset = 0.0

    def before_train(self):
        self._t0 = cpu_seconds()
        # a resumed run starts from the CPU time restored by load_state_dict (the checkpoint's);
        # a storage that already holds a figure (a trainer reused in-process) may be later still
        hist = (
            self.trainer.storage.history("cpu_minutes") if "cpu_minutes" in self.trainer.storage.histories() else None
        )
        self._offset = max(self._offset, hist.latest() if hist is not None else 0.0)

    def _used(self) -> float:
        return self._offset + (cpu_seconds() - getattr(self, "_t0", cpu_seconds())) / 60.0

    def after_step(self):
        it = self.trainer.iter
        if (it + 1) % self._period == 0 or it == self.trainer.max_iter - 1:
            self.trainer.storage.put_scalar("cpu_minutes", self._used(), smoothing_hint=False)

    def after_train(self):
        # evaluation run by later hooks at the last iteration is counted in the final figure
        self.trainer.storage.put_scalar("cpu_minutes_final", self._used(), smoothing_hint=False)

    def state_dict(self):
        return {"offset": self._used()}

    def load_state_dict(self, state):
        self._offset = float(state.get("offset", 0.0))


class AtomicJSONWriter(EventWriter):
    """detectron2's ``JSONWriter`` (one JSON object per line), rewritten atomically at each write.

    Existing whole lines are kept (resume appends), a partial last line is dropped."""

    def __init__(self, json_file: str, window_size: int = 20):
        self._path = json_file
        self._window_size = window_size
        self._last_write = -1
        self._lines: List[str] = []
        if os.path.isfile(json_file):
            with open(json_file) as f:
                for line in f:
                    try:
                        json.loads(line)
                    except ValueError:
                        continue
                    self._lines.append(line if line.endswith("\n") else line + "\n")

    def write(self):
        storage = get_event_storage()
        to_save: Dict[int, Dict[str, Any]] = {}
        for k, (v, it) in storage.latest_with_smoothing_hint(self._window_size).items():
            if it <= self._last_write:
                continue
            to_save.setdefault(it, {})[k] = v
        if not to_save:
            return
        self._last_write = max(to_save)
        for it in sorted(to_save):
            self._lines.append(json.dumps({**to_save[it], "iteration": it}, sort_keys=True) + "\n")
        atomic_write_bytes(self._path, "".join(self._lines).encode(), fsync=True)

    def close(self):
        pass
