"""tools/plot_training.py: curves from detectron2 metrics.json files, clear errors on bad input."""

import json

import pytest
from conftest import load_tool

plot_training = load_tool("plot_training")


def _run(tmp_path, name, ap):
    d = tmp_path / name
    d.mkdir()
    rows = [
        {"iteration": i, "total_loss": 3.0 / (i + 1), "loss_sal": 1.0 / (i + 1), "cpu_minutes": i / 10}
        for i in range(0, 200, 20)
    ]
    rows.append({"iteration": 200, "frame_ap/AP": ap})
    (d / "metrics.json").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return str(d)


def test_plot_two_runs(tmp_path):
    a, b = _run(tmp_path, "a", 50.0), _run(tmp_path, "b", 40.0)
    out = tmp_path / "fig" / "curves.png"
    plot_training.main([a, b, "--labels", "A", "B", "--out", str(out)])
    assert out.stat().st_size > 1000 and out.read_bytes()[:4] == b"\x89PNG"


def test_bad_inputs_named(tmp_path):
    with pytest.raises(SystemExit, match="no metrics.json"):
        plot_training.main([str(tmp_path), "--out", str(tmp_path / "x.png")])
    (tmp_path / "metrics.json").write_text('{"iteration": 1}\nnot json\n')
    with pytest.raises(SystemExit, match=r"metrics.json:2: not a JSON line"):
        plot_training.main([str(tmp_path), "--out", str(tmp_path / "x.png")])
    with pytest.raises(SystemExit, match="one --labels entry per run"):
        plot_training.main([str(tmp_path), "--labels", "a", "b", "--out", str(tmp_path / "x.png")])
