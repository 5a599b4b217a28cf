"""CPU-time accounting of training runs counts data-loader worker processes (budgets are CPU-minutes)."""

import subprocess
import sys
import time

import pytest

from uvmos.engine.hooks import cpu_seconds

_BURN = (
    "import sys, time\n"
    "t0 = time.process_time()\n"
    "while time.process_time() - t0 < 0.6: pass\n"
    "print('done', flush=True)\n"
    "time.sleep(30)\n"
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="live child processes are read from /proc")
def test_cpu_seconds_counts_live_children():
    before = cpu_seconds()
    child = subprocess.Popen([sys.executable, "-c", _BURN], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "done"
        time.sleep(0.05)
        assert child.poll() is None  # still alive: its time must come from /proc, not os.times()
        used = cpu_seconds() - before
    finally:
        child.kill()
        child.wait()
    assert used >= 0.6, f"a child that burnt 0.6 CPU-s was counted as {used:.2f} s"
    # once reaped, the child's time moves to os.times().children_*: still counted, not twice
    after = cpu_seconds() - before
    assert 0.6 <= after < used + 0.5


def test_cpu_time_hook_resume_keeps_checkpoint_offset():
    """Resuming (detectron2 restores hook state before ``before_train``) continues the count."""
    from detectron2.utils.events import EventStorage

    from uvmos.engine.hooks import CPUTimeHook

    class _Trainer:
        iter, max_iter = 0, 10

    hook = CPUTimeHook(period=1)
    hook.trainer = _Trainer()
    hook.load_state_dict({"offset": 7.5})  # what the checkpoint of the first segment holds
    with EventStorage(0) as storage:  # a resumed run's storage is fresh
        hook.trainer.storage = storage
        hook.before_train()
        hook.after_step()
        assert storage.history("cpu_minutes").latest() >= 7.5
    assert hook.state_dict()["offset"] >= 7.5
