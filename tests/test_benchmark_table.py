"""tools/benchmark.py table: every row's config loads, and a row whose checkpoint is missing is
reported as not measured (with the path), not silently run with random weights."""

import json
import os
from pathlib import Path

import pytest
from detectron2.config import LazyConfig

REPO = Path(__file__).resolve().parents[1]
import benchmark  # noqa: E402


def test_every_table_row_config_loads():
    for name, spec in benchmark.TABLES.items():
        for row in spec["rows"]:
            cfg = LazyConfig.load(str(REPO / row["config"]))
            assert "model" in cfg, (name, row["name"])


def test_missing_checkpoint_row_not_measured(tmp_path, monkeypatch, capsys):
    missing = str(tmp_path / "nope.pth")
    monkeypatch.setitem(
        benchmark.TABLES,
        "x",
        dict(
            kind="frame_ap",
            dataset="uvmos_synth_test",
            rows=[
                dict(
                    name="Mask R-CNN",
                    config=str(REPO / "projects/MaskRCNN/configs/maskrcnn_proposer_tiny.py"),
                    opts=[f"train.init_checkpoint={{model:{missing}}}"],
                )
            ],
        ),
    )
    out_json, out_md = tmp_path / "t.json", tmp_path / "t.md"
    args = type(
        "A", (), dict(table="x", rows=None, dataset="", warmup=0, threads=1, json=str(out_json), markdown=str(out_md))
    )()
    rows = benchmark.cmd_table(args)
    assert rows[0]["not_measured"] == f"missing checkpoint {missing}"
    md = out_md.read_text()
    assert "not measured: missing checkpoint" in md and 'benchmark.py table x --rows "Mask R-CNN"' in md
    assert json.loads(out_json.read_text())["rows"][0]["name"] == "Mask R-CNN"


def test_unknown_row_is_an_error():
    args = type("A", (), dict(table="3", rows=["nope"], dataset="", warmup=0, threads=1, json="", markdown=""))()
    with pytest.raises(SystemExit, match="no rows"):
        benchmark.cmd_table(args)


def test_jf_table_row_runs_end_to_end(tmp_path, monkeypatch):
    """A J&F table row (``benchmark.py table 1``) runs the video pipeline and scores it: on a
    2-video synthetic set, the greedy row with the embedded weights."""
    from detectron2.data import DatasetCatalog, MetadataCatalog

    from tests._data_helpers import tiny_synthetic_val
    from uvmos.data.builtin import register_davis

    name = "uvmos_synth_val_tablerow"
    root = tmp_path / "uvmos_synth"
    tiny_synthetic_val(root, num_val=2)
    register_davis(name, str(root), "val", synthetic=True)
    try:
        monkeypatch.setitem(
            benchmark.TABLES,
            "y",
            dict(
                kind="jf",
                dataset=name,
                rows=[dict(name="greedy", config=str(REPO / "configs/baselines/greedy_tiny_cpu.py"))],
            ),
        )
        args = type("A", (), dict(table="y", rows=None, dataset="", warmup=0, threads=1, json="", markdown=""))()
        rows = benchmark.cmd_table(args)
    finally:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    assert "not_measured" not in rows[0]
    assert 0.0 <= rows[0]["davis"]["J&F-Mean"] <= 1.0


def test_background_load_runs_cpu_jobs_only_while_measuring():
    """``benchmark.py run --background-load N``: N CPU-bound processes run (and burn CPU) inside
    the block and are gone after it, also when the body raises."""
    import time

    def cpu_seconds(pid):  # utime + stime from /proc/<pid>/stat
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    with benchmark.background_load(2, 1) as procs:
        assert len(procs) == 2 and all(p.poll() is None for p in procs)
        start, deadline = [cpu_seconds(p.pid) for p in procs], time.time() + 60
        while time.time() < deadline and not all(cpu_seconds(p.pid) > s + 0.3 for p, s in zip(procs, start)):
            time.sleep(0.2)
        assert all(cpu_seconds(p.pid) > s + 0.3 for p, s in zip(procs, start))  # computing, not idle
    assert all(p.returncode is not None for p in procs)
    with pytest.raises(RuntimeError), benchmark.background_load(1, 1) as procs:
        raise RuntimeError
    assert procs[0].returncode is not None


def test_background_load_runs_with_default_openmp_settings(monkeypatch):
    """The load is the same job whatever this process's OpenMP settings: OMP_*/GOMP_* are not
    passed on (a run with OMP_WAIT_POLICY=PASSIVE must not also make its load yield)."""
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    monkeypatch.setenv("GOMP_SPINCOUNT", "0")
    with benchmark.background_load(1, 1) as procs:
        env = open(f"/proc/{procs[0].pid}/environ", "rb").read().split(b"\0")
    assert not any(e.startswith((b"OMP_", b"GOMP_")) for e in env)
    assert any(e.startswith(b"PATH=") for e in env)
