"""Training hooks beyond detectron2's: CPU-time accounting (budgets in the issues are CPU-minutes)."""
import time

from detectron2.engine import HookBase

__all__ = ["CPUTimeHook"]


class CPUTimeHook(HookBase):
    """Log this process' cumulative CPU minutes (user+system, all threads) as ``cpu_minutes``.

    Resuming adds the CPU time recorded in the checkpoint's storage history, so the figure is the
    whole run's, not just the last segment's.
    """

    def __init__(self, period: int = 20):
        self._period = period
        self._offset = 0.0

    def before_train(self):
        self._t0 = time.process_time()
        hist = self.trainer.storage.history("cpu_minutes") if "cpu_minutes" in self.trainer.storage.histories() else None
        self._offset = hist.latest() if hist is not None else 0.0

    def after_step(self):
        it = self.trainer.iter
        if (it + 1) % self._period == 0 or it == self.trainer.max_iter - 1:
            used = self._offset + (time.process_time() - self._t0) / 60.0
            self.trainer.storage.put_scalar("cpu_minutes", used, smoothing_hint=False)

    def state_dict(self):
        return {"offset": self._offset + (time.process_time() - getattr(self, "_t0", time.process_time())) / 60.0}

    def load_state_dict(self, state):
        self._offset = float(state.get("offset", 0.0))
