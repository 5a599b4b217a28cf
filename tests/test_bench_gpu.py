"""tools/bench_gpu.py: runs end to end (tiny config, CPU, 2 frames, ~5 s) and refuses silent random weights."""

import json

import numpy as np
import pytest
import torch
from conftest import load_tool


def test_needs_allow_random_weights_flag(capsys):
    tool = load_tool("bench_gpu")
    with pytest.raises(SystemExit):
        tool.main(
            [
                "--device",
                "cpu",
                "--config-file",
                "configs/uvmos/tiny_cpu.py",
                "--size",
                "64",
                "112",
                "--frames-n",
                "2",
                "--warmup",
                "1",
                "train.init_checkpoint=",
            ]
        )
    err = capsys.readouterr().err
    assert "would be random" in err and "--allow-random-weights" in err


def test_controlled_proposals_mask_objects_first():
    tool = load_tool("bench_gpu")
    m = np.zeros((32, 48), np.uint8)
    m[4:12, 6:20] = 1
    props, unions = tool.controlled_proposals([m, None], 2, (32, 48), torch.device("cpu"))
    assert [len(p) for p in props] == [2, 2]
    assert torch.equal(props[0].pred_masks[0], torch.from_numpy(m == 1))  # the mask's object first
    assert props[1].pred_masks.flatten(1).any(1).all()  # two ellipses where there is no mask
    assert unions[0].shape == (1, 32, 48) and unions[0].sum() >= (m == 1).sum()


def _cpu_args(out):
    """A two-frame fp32 run of the tiny config on the CPU, written to ``out``."""
    size = ["--size", "64", "112", "--frames-n", "2", "--warmup", "1", "--precisions", "fp32"]
    return ["--device", "cpu", "--config-file", "configs/uvmos/tiny_cpu.py", *size, "--output", str(out)]


def test_cpu_dry_run(tmp_path):
    tool = load_tool("bench_gpu")
    out = tmp_path / "bench.json"
    tool.main(["--allow-random-weights", *_cpu_args(out), "train.init_checkpoint="])
    r = json.loads(out.read_text())
    assert r["weights"].startswith("RANDOM")
    assert r["norms_recalibrated"] > 0
    runs = {x["run"]: x for x in r["runs"]}
    assert set(runs) == {"dnet", "tnet", "pipeline"}, r["runs"]
    assert runs["pipeline"]["stats"]["total"]["mean_ms"] >= runs["pipeline"]["stats"]["dnet"]["mean_ms"] > 0
    assert runs["tnet"]["stats"]["tnet"]["mean_ms"] > 0 and runs["tnet"]["visible_tracks_per_frame"] > 0
    assert "| paper (Table 5) |" in r["table"]


def test_cpu_dry_run_with_the_configs_weights(tmp_path):
    """Weights are the config's ``train.init_checkpoint`` (here the embedded model): no random
    batch-norm recalibration, and the JSON names them."""
    tool = load_tool("bench_gpu")
    out = tmp_path / "bench.json"
    tool.main(_cpu_args(out))
    r = json.loads(out.read_text())
    assert r["weights"].startswith("train.init_checkpoint") and "uvmos_tiny_cpu.pth" in r["weights"]
    assert "norms_recalibrated" not in r
