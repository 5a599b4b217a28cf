"""tools/train_net.py and its checkpoints on bad input and faults (issue 11): config problems are
one-line errors before any process starts; checkpoints and metrics.json are never half-written; a
resume checks the checkpoint it trusts; no model is evaluated with random weights by accident."""

import json
import os

import pytest
import torch
from torch import nn

from tests.conftest import REPO, load_tool
from uvmos.engine.checkpoint import AtomicCheckpointer, AtomicJSONWriter, CheckpointError, load_inference_weights

train_net = load_tool("train_net")
pytestmark = pytest.mark.timeout(60)
DNET = str(REPO / "configs" / "dnet" / "tiny_cpu.py")


CASES = {
    "misspelled_top": (["trian.init_checkpoint=X"], "unknown config key 'trian'; did you mean 'train.init_checkpoint'"),
    "misspelled_leaf": (["train.max_itr=6"], "unknown config key 'train.max_itr'; did you mean 'train.max_iter'"),
    "bad_int": (["train.max_iter=abc"], "train.max_iter=abc: expected an integer (current value"),
    "bad_bool": (["train.amp.enabled=maybe"], "expected true or false"),
    "zero_iterations": (["train.max_iter=0"], "train.max_iter=0: must be at least 1"),
    "no_equals": (["train.max_iter"], "override 'train.max_iter' has no '='"),
    "unparsable": (["train.max_iter=[1"], "cannot be parsed"),
    "missing_checkpoint": (
        ["train.init_checkpoint=/nope/model_final.pth"],
        "train.init_checkpoint=/nope/model_final.pth: no such file",
    ),
    "checkpoint_is_folder": (["train.init_checkpoint=/tmp"], "a folder, not a checkpoint file"),
    "missing_part_weights": (
        ["train.init_checkpoint={{backbone:/nope/R-50.pkl}}"],
        "train.init_checkpoint['backbone']=/nope/R-50.pkl: no such file",
    ),
    "weights_in_constructor": (["model.backbone.weights=/x.pkl"], "unknown config key 'model.backbone.weights'"),
    "output_dir_is_file": (["train.output_dir={afile}"], "train.output_dir {afile}: is a file"),
    "eval_only_random": (["--eval-only"], "would evaluate a model with random weights"),
    "missing_config": (None, "no such file"),
    "video_config_trained": (["--config-file", "configs/uvmos/tiny_cpu.py"], "so it cannot be trained"),
    "num_gpus_without_gpu": (["--num-gpus", "2"], "no CUDA device here; use --num-processes"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_config_errors_before_any_process(tmp_path, capsys, case):
    opts, needle = CASES[case]
    if case == "num_gpus_without_gpu" and torch.cuda.is_available():
        pytest.skip("a GPU is present")
    (tmp_path / "afile").write_text("x")
    argv = ["--config-file", DNET if opts is not None else str(tmp_path / "nope.py")]
    opts = [o.format(afile=tmp_path / "afile") for o in (opts or [])]
    flags = [o for o in opts if o.startswith("--")]
    if "--config-file" in opts:
        argv, flags = ["--config-file", str(REPO / opts[1])], []
    elif "--num-gpus" in opts:
        flags = opts[:2]
    opts = [o for o in opts if o not in flags and not o.startswith("--") and o != "configs/uvmos/tiny_cpu.py"]
    if not any(o.startswith("train.output_dir") for o in opts):
        opts.append(f"train.output_dir={tmp_path / 'out'}")
    with pytest.raises(SystemExit) as e:
        train_net.parse_args(argv + flags + opts)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert needle.format(afile=tmp_path / "afile") in err, err
    assert len([line for line in err.splitlines() if line.startswith("error")]) == 1


def test_supported_overrides_pass(tmp_path):
    args = train_net.parse_args(
        [
            "--config-file",
            DNET,
            f"train.output_dir={tmp_path}",
            "train.max_iter=1e2",
            "train.init_checkpoint=",
            "dataloader.train.mapper.augmentations.crop_size=[64,64]",
        ]
    )
    assert args.opts


# ---------------------------------------------------------------------------------------------
# checkpoints
# ---------------------------------------------------------------------------------------------
class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 4)
        self.b = nn.Linear(4, 2)


def _saved(tmp_path, names):
    m = Tiny()
    ck = AtomicCheckpointer(m, str(tmp_path))
    for i, n in enumerate(names):
        with torch.no_grad():
            m.a.weight.fill_(i)
        ck.save(n, iteration=i)
    return ck


def test_save_killed_midway_leaves_previous_checkpoint(tmp_path, monkeypatch):
    _saved(tmp_path, ["model_0000004", "model_final"])
    before = (tmp_path / "model_final.pth").read_bytes()

    def dies(obj, f, *a, **k):
        f.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt  # the process is stopped while writing

    monkeypatch.setattr(torch, "save", dies)
    ck = AtomicCheckpointer(Tiny(), str(tmp_path))
    with pytest.raises(KeyboardInterrupt):
        ck.save("model_final")
    assert (tmp_path / "model_final.pth").read_bytes() == before
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".tmp")]
    assert (tmp_path / "last_checkpoint").read_text() == "model_final.pth"


def test_resume_skips_a_truncated_checkpoint(tmp_path):
    _saved(tmp_path, ["model_0000004", "model_final"])
    final = tmp_path / "model_final.pth"
    final.write_bytes(final.read_bytes()[:200])  # SIGKILL while a non-atomic writer was saving
    (tmp_path / ".tmp-model_final.pth-abc").write_bytes(b"junk")  # a killed atomic save's temp file
    m = Tiny()
    ck = AtomicCheckpointer(m, str(tmp_path))
    extra = ck.resume_or_load("", resume=True)
    assert extra["iteration"] == 0 and m.a.weight[0, 0].item() == 0.0  # model_0000004 (written first)
    assert not final.exists() and (tmp_path / "model_final.pth.corrupt").exists()
    assert (tmp_path / "last_checkpoint").read_text() == "model_0000004.pth"
    assert not (tmp_path / ".tmp-model_final.pth-abc").exists()


def test_truncated_final_not_tagged_is_set_aside(tmp_path):
    """SIGKILL while an older, non-atomic writer saved model_final.pth: last_checkpoint still names
    the periodic checkpoint, and the truncated final one must not survive the resume."""
    _saved(tmp_path, ["model_0000004"])
    (tmp_path / "model_final.pth").write_bytes(b"PK\x03\x04 truncated")
    AtomicCheckpointer(Tiny(), str(tmp_path)).resume_or_load("", resume=True)
    assert not (tmp_path / "model_final.pth").exists() and (tmp_path / "model_final.pth.corrupt").exists()


def test_resume_refuses_when_no_checkpoint_is_readable(tmp_path):
    _saved(tmp_path, ["model_final"])
    (tmp_path / "model_final.pth").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="no usable checkpoint to resume from .*model_final.pth: unreadable"):
        AtomicCheckpointer(Tiny(), str(tmp_path)).resume_or_load("", resume=True)


def test_truncated_checkpoint_for_evaluation_names_the_file(tmp_path):
    _saved(tmp_path, ["model_final"])
    p = tmp_path / "model_final.pth"
    p.write_bytes(p.read_bytes()[:100])
    with pytest.raises(CheckpointError, match=f"{p}: unreadable checkpoint"):
        AtomicCheckpointer(Tiny()).load(str(p))


def test_metrics_json_is_whole_lines(tmp_path):
    from detectron2.utils.events import EventStorage

    path = tmp_path / "metrics.json"
    path.write_text('{"iteration": 0, "loss": 1.0}\n{"iteration": 1, "lo')  # killed mid-line
    w = AtomicJSONWriter(str(path))
    with EventStorage(2) as storage:
        storage.put_scalar("loss", 0.5, smoothing_hint=False)
        w.write()
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [0, 2]


def test_mostly_unmatched_checkpoint_is_an_error(tmp_path):
    p = tmp_path / "other.pth"
    torch.save({"model": {"x.weight": torch.zeros(4, 3), "a.weight": torch.zeros(4, 3), "y.bias": torch.zeros(2)}}, p)
    with pytest.raises(CheckpointError, match="only 1 of its 3 tensors fit this model"):
        AtomicCheckpointer(Tiny()).load(str(p))


# ---------------------------------------------------------------------------------------------
# random weights (eval-only, VideoPredictor, table4_tnet, the R-101 tracker, Mask R-CNN baselines)
# ---------------------------------------------------------------------------------------------
def test_random_weights_refused_unless_allowed(tmp_path):
    with pytest.raises(CheckpointError, match="4 of 4 parameters would be random.*--allow-random-weights"):
        load_inference_weights(Tiny(), "")
    assert load_inference_weights(Tiny(), "", allow_random=True) is None
    # a checkpoint with "a" only: "b" stays random
    p = tmp_path / "a_only.pth"
    torch.save({"model": {k: v for k, v in Tiny().state_dict().items() if k.startswith("a.")}}, p)
    with pytest.raises(CheckpointError, match=r"2 of 4 parameters would be random \(b\).*\{b: FILE\}"):
        load_inference_weights(Tiny(), str(p))
    # "b" given its own file as a part of train.init_checkpoint: covered
    b_file = tmp_path / "b.pth"
    torch.save({"model": {"b.weight": torch.ones(2, 4), "b.bias": torch.zeros(2)}}, b_file)
    assert load_inference_weights(Tiny(), {"": str(p), "b": str(b_file)})


@pytest.mark.parametrize(
    "config, module",
    [
        ("configs/uvmos/r50_paper.py", "associator.features"),
        ("configs/baselines/maskrcnn_greedy.py", "proposer.model"),
        ("configs/baselines/oracle_tnet.py", "associator.features"),
    ],
)
def test_configs_with_random_parts_are_refused(config, module):
    """Full-size configs whose weights are not here: building them reads no file, and running
    them without weights is refused, naming the random part."""
    from detectron2.config import LazyConfig, instantiate

    model = instantiate(LazyConfig.load(str(REPO / config)).model)
    with pytest.raises(CheckpointError, match=f"would be random \\(.*{module}"):
        load_inference_weights(model, "")


def test_table4_refuses_random_weights(tmp_path):
    from detectron2.data import DatasetCatalog

    table4 = load_tool("table4_tnet")
    DatasetCatalog.register("empty_for_table4", lambda: [])
    try:
        with pytest.raises(CheckpointError, match="would be random"):
            table4.main(
                [
                    "--config-file",
                    str(REPO / "configs" / "uvmos" / "tiny_cpu.py"),
                    "--dataset",
                    "empty_for_table4",
                    "train.init_checkpoint=",
                ]
            )
        with pytest.raises(SystemExit):  # argparse's one-line error, no traceback
            table4.main(["--config-file", str(REPO / "configs" / "uvmos" / "tiny_cpu.py"), "--skip-videos", "-1"])
    finally:
        DatasetCatalog.remove("empty_for_table4")


def test_tracker_modules_of_the_video_model_are_checked(tmp_path):
    """The tracker's modules (the R-101 of configs/uvmos/r50_paper.py) are in the video model's
    state dict under ``associator.``: random unless a checkpoint, or a part of one, covers them.
    Checkpoints of the older layout (``associator_modules.``) still load."""

    class Video(nn.Module):
        def __init__(self):
            super().__init__()
            self.proposer = nn.Linear(3, 4)
            self.associator = nn.Module()
            self.associator.features = nn.Linear(4, 4)

    p = tmp_path / "proposer.pth"
    torch.save({"model": {k: v for k, v in Video().state_dict().items() if k.startswith("proposer.")}}, p)
    with pytest.raises(CheckpointError, match=r"2 of 4 parameters would be random \(associator.features\)"):
        load_inference_weights(Video(), str(p))
    old = tmp_path / "old_layout.pth"
    torch.save(
        {
            "model": {
                "proposer.weight": torch.ones(4, 3),
                "proposer.bias": torch.zeros(4),
                "associator_modules.features.weight": torch.ones(4, 4),
                "associator_modules.features.bias": torch.zeros(4),
            }
        },
        old,
    )
    model = Video()
    assert load_inference_weights(model, str(old))
    assert torch.equal(model.associator.features.weight, torch.ones(4, 4))


def test_benchmark_run_refuses_random_weights(tmp_path):
    """tools/benchmark.py run: an untrained baseline is refused (one line, exit 2) unless
    --allow-random-weights is given, as in the other tools."""
    import subprocess
    import sys

    cmd = [
        sys.executable,
        "tools/benchmark.py",
        "run",
        "--config-file",
        "configs/baselines/maskrcnn_greedy.py",
        "--dataset",
        "uvmos_synth_val",
        "--videos",
        "1",
    ]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=str(REPO))
    assert r.returncode == 2 and "random" in r.stderr and "--allow-random-weights" in r.stderr
