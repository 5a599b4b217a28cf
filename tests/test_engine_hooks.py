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
