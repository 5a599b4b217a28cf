"""tools/train_net.py end to end on a tiny synthetic dataset: two GLOO processes (DDP on CPU),
and a run killed mid-way that resumes from its last checkpoint."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from tests.conftest import REPO

TRAIN = str(REPO / "tools" / "train_net.py")
CONFIG = str(REPO / "configs" / "dnet" / "tiny_cpu.py")


@pytest.fixture(scope="module")
def tiny_synth(tmp_path_factory):
    from uvmos.data.synthetic import SyntheticConfig, make_synthetic_dataset

    root = tmp_path_factory.mktemp("datasets")
    cfg = SyntheticConfig(height=64, width=96, length=4, max_objects=3)
    make_synthetic_dataset(str(root / "uvmos_synth"), cfg, num_train=3, num_val=1, num_test=0, progress=False)
    return root


def _env(root):
    env = dict(os.environ, UVMOS_DATASETS=str(root), OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return env


def _opts(out, max_iter, period):
    return [
        f"train.output_dir={out}",
        f"train.max_iter={max_iter}",
        "train.eval_period=0",
        f"train.checkpointer.period={period}",
        "train.log_period=1",
        "dataloader.train.num_workers=0",
        "dataloader.train.total_batch_size=2",
        "dataloader.train.mapper.augmentations.crop_size=[64,64]",
    ]


def _rows(out):
    with open(os.path.join(out, "metrics.json")) as f:
        return [json.loads(line) for line in f if line.strip()]


def _iters(out):
    """Iterations of the training rows (losses logged), not of the end-of-training summary row."""
    return [r["iteration"] for r in _rows(out) if "total_loss" in r]


def test_two_cpu_processes(tiny_synth, tmp_path):
    out = str(tmp_path / "ddp")
    cmd = [
        sys.executable,
        TRAIN,
        "--config-file",
        CONFIG,
        "--num-processes",
        "2",
        "--dist-url",
        "auto",
        *_opts(out, 3, 100),
    ]
    subprocess.run(cmd, env=_env(tiny_synth), check=True, timeout=600, capture_output=True)
    assert os.path.isfile(os.path.join(out, "model_final.pth"))
    assert max(_iters(out)) == 2
    ckpt = torch.load(os.path.join(out, "model_final.pth"), map_location="cpu", weights_only=False)
    assert ckpt["iteration"] == 2 and not any(k.startswith("module.") for k in ckpt["model"])


def test_killed_run_resumes(tiny_synth, tmp_path):
    out = str(tmp_path / "resume")
    max_iter, period = 30, 4
    cmd = [sys.executable, TRAIN, "--config-file", CONFIG, *_opts(out, max_iter, period)]
    proc = subprocess.Popen(cmd, env=_env(tiny_synth), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = os.path.join(out, "last_checkpoint")
    deadline = time.time() + 300
    try:
        while time.time() < deadline and proc.poll() is None:
            if os.path.isfile(last) and open(last).read().strip() != "model_0000003.pth":
                break  # a checkpoint after the first one exists: kill mid-way
            time.sleep(0.2)
        assert proc.poll() is None, "training finished before it could be killed; raise max_iter"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    killed_at = open(last).read().strip()
    killed_iter = int(killed_at.split("_")[1].split(".")[0])
    assert 0 < killed_iter < max_iter - 1
    assert not os.path.isfile(os.path.join(out, "model_final.pth"))

    resume = [sys.executable, TRAIN, "--config-file", CONFIG, "--resume", *_opts(out, max_iter, period)]
    subprocess.run(resume, env=_env(tiny_synth), check=True, timeout=600, capture_output=True)
    final = os.path.join(out, "model_final.pth")
    ckpt = torch.load(final, map_location="cpu", weights_only=False)
    assert ckpt["iteration"] == max_iter - 1
    iters = _iters(out)
    # the resumed segment starts right after the checkpoint it loaded
    assert killed_iter + 1 in iters and max(iters) == max_iter - 1, (killed_iter, iters, _rows(out))

    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.config import LazyConfig, instantiate

    model = instantiate(LazyConfig.load(CONFIG).model)
    DetectionCheckpointer(model).load(final)  # loadable into a fresh model


def test_ytvis_semantic_project(tiny_synth, tmp_path):
    """projects/YTVIS_Semantic: the K+1-class D-Net trains and evaluates (class-aware frame AP), and
    the video model on it gives YouTube-VIS AP with categories through tools/train_net.py."""
    proj = REPO / "projects" / "YTVIS_Semantic" / "configs"
    out = str(tmp_path / "sem")
    cmd = [
        sys.executable,
        TRAIN,
        "--config-file",
        str(proj / "dnet_tiny_synth.py"),
        *_opts(out, 3, 100),
        "train.eval_period=3",
    ]
    proc = subprocess.run(cmd, env=_env(tiny_synth), timeout=600, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = _rows(out)
    assert any("frame_ap/AP" in r for r in rows)
    ckpt = torch.load(os.path.join(out, "model_final.pth"), map_location="cpu", weights_only=False)
    assert ckpt["model"]["sal_head.predictor.weight"].shape[0] == 9  # background + 8 categories

    vout = str(tmp_path / "video")
    cmd = [
        sys.executable,
        TRAIN,
        "--config-file",
        str(proj / "uvmos_tiny_synth.py"),
        "--eval-only",
        f"train.init_checkpoint={out}/model_final.pth",
        f"train.output_dir={vout}",
    ]
    proc = subprocess.run(cmd, env=_env(tiny_synth), timeout=600, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ytvis" in proc.stderr + proc.stdout
    with open(os.path.join(vout, "results.json")) as f:
        results = json.load(f)
    assert all(1 <= r["category_id"] <= 8 and len(r["segmentations"]) == 4 for r in results)
