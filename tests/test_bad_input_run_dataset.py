"""tools/run_dataset.py on bad input and reruns (issue 11): one-line errors naming the key/file
before the model is built; a rerun trusts only videos proven complete and only its own results."""

import json
import os
import stat

import pytest
import run_dataset  # noqa: E402  (tools/ is on the path: pytest.ini)
import torch

from tests.conftest import REPO, load_tool

pytestmark = pytest.mark.timeout(90)
CONFIG = str(REPO / "configs" / "uvmos" / "tiny_cpu.py")
NAME = "uvmos_synth_val_badinput"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from detectron2.data import DatasetCatalog, MetadataCatalog

    from tests._data_helpers import tiny_synthetic_val
    from uvmos.data.builtin import register_davis

    root = tmp_path_factory.mktemp("ds") / "uvmos_synth"
    tiny_synthetic_val(root, num_val=2)
    register_davis(NAME, str(root), "val", synthetic=True)
    register_davis(NAME + "_gone", str(root.parent / "nowhere"), "val", synthetic=True)
    yield root
    for n in (NAME, NAME + "_gone"):
        DatasetCatalog.remove(n)
        MetadataCatalog.remove(n)


def _run(out, *extra, opts=()):
    return run_dataset.main(["--config-file", CONFIG, "--dataset", NAME, "--output", str(out), *extra, *opts])


def _built(monkeypatch):
    built = []
    orig = run_dataset.build_model

    def spy(*a, **k):
        built.append(1)
        return orig(*a, **k)

    monkeypatch.setattr(run_dataset, "build_model", spy)
    return built


CASES = {
    "misspelled_key": (
        [],
        ["trian.init_checkpoint=x.pth"],
        None,
        "unknown config key 'trian'; did you mean 'train.init_checkpoint'",
    ),
    "no_equals": ([], ["train.init_checkpoint"], None, "has no '='"),
    "bad_value": ([], ["model.associator.max_tracks=abc"], None, "expected an integer"),
    "missing_checkpoint": (
        [],
        ["train.init_checkpoint=/nope.pth"],
        None,
        "train.init_checkpoint=/nope.pth: no such file",
    ),
    "unknown_dataset": (["--dataset", "uvmos_synth_vall"], [], None, "unknown dataset; did you mean 'uvmos_synth_val'"),
    "dataset_root_missing": (["--dataset", NAME + "_gone"], [], None, "nowhere: --dataset"),
    "output_is_file": ([], [], "afile", "is a file, not a folder"),
    "output_under_file": ([], [], "afile/sub", "which is a file"),
    "ytvis_results_is_folder": (["--ytvis-results", "."], [], None, "--ytvis-results .: is a folder"),
    "output_inside_dataset": ([], [], "DATASET/Annotations/480p", "lies inside the dataset's root"),
    "device_missing": (["--device", "cuda:7"], [], None, "--device cuda:7"),
    "per_frame_config": (
        ["--config-file", str(REPO / "configs" / "dnet" / "tiny_cpu.py")],
        [],
        None,
        "is a per-frame model, not a video model",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_one_line_error_before_model(dataset, tmp_path, monkeypatch, case):
    extra, opts, out_kind, needle = CASES[case]
    (tmp_path / "afile").write_text("x")
    out = tmp_path / (out_kind or "out")
    if out_kind and out_kind.startswith("DATASET"):
        out = dataset / out_kind.split("/", 1)[1]
    before = sorted(os.listdir(out)) if out.is_dir() else []
    built = _built(monkeypatch)
    with pytest.raises(SystemExit) as e:
        _run(out, *extra, opts=opts)
    msg = str(e.value)
    assert e.value.code == 2  # exit status
    assert msg.startswith("error: ") and needle in msg and "\n" not in msg, msg
    assert not built
    if out.is_dir():
        assert sorted(os.listdir(out)) == before


@pytest.mark.parametrize("case", ["random_weights", "mostly_unmatched"])
def test_weights_refused(dataset, tmp_path, case):
    if case == "random_weights":
        opts, needle = ["train.init_checkpoint="], "would be random"
    else:
        bad = tmp_path / "other.pth"
        torch.save({"model": {"head.weight": torch.zeros(3, 3), "head.bias": torch.zeros(3)}}, bad)
        opts, needle = [f"train.init_checkpoint={bad}"], "only 0 of its 2 tensors fit this model"
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as e:
        _run(out, opts=opts)
    assert e.value.code == 2 and needle in str(e.value) and "\n" not in str(e.value), str(e.value)
    assert not [d for d in os.listdir(out) if d.startswith("synth")]


def _videos(out):
    return sorted(d for d in os.listdir(out) if d.startswith("synth_val"))


def test_resume_fingerprint_and_manifests(dataset, tmp_path, caplog):
    out = tmp_path / "out"
    first = _run(out)
    vids = _videos(out)
    assert len(vids) == 2 and (out / "uvmos_run.json").is_file()
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(out / vids[0]).st_mode) == 0o777 & ~umask  # not mkdtemp's 0700

    # a finished video whose PNGs were deleted is redone (not skipped, no hang in evaluation)
    pngs = sorted((out / vids[0]).glob("*.png"))
    pngs[1].unlink()
    again = _run(out)
    assert again == first and len(list((out / vids[0]).glob("*.png"))) == len(pngs)

    # other weights into the same output: refused, old results untouched
    other = tmp_path / "dnet.pth"
    from uvmos.engine.checkpoint import AtomicCheckpointer  # noqa: F401  (a D-Net-only checkpoint)

    sd = torch.load(str(REPO / "uvmos" / "model_zoo" / "uvmos_tiny_cpu.pth"), map_location="cpu", weights_only=False)
    sd = {"model": {k: v * 0.5 if v.is_floating_point() else v for k, v in sd["model"].items()}}
    torch.save(sd, other)
    mtime = os.path.getmtime(pngs[0])
    with pytest.raises(SystemExit) as e:
        _run(out, opts=[f"train.init_checkpoint={other}"])
    assert e.value.code == 2
    assert f"error: {out}: holds results of another run (weights_sha256 differ" in str(e.value)
    assert os.path.getmtime(pngs[0]) == mtime
    # --overwrite redoes them, and the fingerprint follows
    _run(out, "--overwrite", opts=[f"train.init_checkpoint={other}"])
    assert os.path.getmtime(pngs[0]) != mtime
    assert json.loads((out / "uvmos_run.json").read_text())["weights"] == str(other)


def test_legacy_output_without_fingerprint_refused(dataset, tmp_path):
    out = tmp_path / "out"
    (out / "synth_val_0000").mkdir(parents=True)
    with pytest.raises(SystemExit) as e:
        _run(out)
    assert e.value.code == 2 and "but no uvmos_run.json" in str(e.value) and "--overwrite" in str(e.value)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--num-train", "-1"], "argument --num-train: -1 is below 0"),
        (["--length", "0"], "argument --length: 0 is below 1"),
        (["--height", "abc"], "argument --height: 'abc' is not an integer"),
        (["--max-objects", "0"], "argument --max-objects: 0 is below 1"),
        (["--num-val", "0"], "nothing to generate"),
    ],
)
def test_make_synthetic_bad_counts(tmp_path, capsys, args, needle):
    make_synthetic = load_tool("make_synthetic")
    with pytest.raises(SystemExit) as e:
        make_synthetic.main(["--output", str(tmp_path / "ds"), "--num-train", "0", "--num-test", "0", *args])
    assert e.value.code == 2
    msg = capsys.readouterr().err
    assert needle in msg, msg
    assert not (tmp_path / "ds" / "JPEGImages").exists()


def test_two_processes_give_the_same_masks_as_one(tmp_path, monkeypatch):
    """--num-processes 2 (detectron2's launch, GLOO on CPU) shards the videos; the masks are the
    ones a single process writes, and rank 0 evaluates all of them."""
    import numpy as np

    from tests._data_helpers import tiny_synthetic_val
    from uvmos.data.builtin import register_all
    from uvmos.data.io import read_id_maps

    root = tmp_path / "datasets"
    tiny_synthetic_val(root / "uvmos_synth", num_val=3)
    monkeypatch.setenv("UVMOS_DATASETS", str(root))  # the spawned processes register the same root
    register_all(str(root))
    try:
        args = ["--config-file", CONFIG, "--dataset", "uvmos_synth_val"]
        one = run_dataset.main([*args, "--output", str(tmp_path / "one")])
        run_dataset.main([*args, "--output", str(tmp_path / "two"), "--num-processes", "2"])
        videos = _videos(tmp_path / "one")
        assert len(videos) == 3 and _videos(tmp_path / "two") == videos
        for v in videos:
            a, b = read_id_maps(str(tmp_path / "one" / v)), read_id_maps(str(tmp_path / "two" / v))
            assert len(a) == len(b) == 3 and all(np.array_equal(x, y) for x, y in zip(a, b)), v
        with open(tmp_path / "two" / "davis.json") as f:  # written by rank 0 after both shards
            assert abs(json.load(f)["global"]["J&F-Mean"] - one["J&F-Mean"]) < 1e-9
    finally:
        register_all()
