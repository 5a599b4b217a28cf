"""tools/demo.py and VideoPredictor on bad input (issue 11): one-line errors naming the file or key,
raised before the model is built; no half-written or stale outputs; 16-bit frames read right."""

import os
import stat

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO, load_tool

demo = load_tool("demo")
pytestmark = pytest.mark.timeout(60)
CONFIG = str(REPO / "configs" / "uvmos" / "tiny_cpu.py")


def _frames(folder, n, size=(64, 96), seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for t in range(n):
        cv2.imwrite(str(folder / f"{t:05d}.png"), rng.integers(0, 255, (*size, 3), dtype=np.uint8))
    return folder


def _args(inp, out, *extra, opts=()):
    return demo.get_parser().parse_args(
        ["--config-file", CONFIG, "--input", str(inp), "--output", str(out), "--no-video", *extra, *opts]
    )


def _built_models(monkeypatch):
    """Count VideoPredictor constructions: config/input errors must come before any."""
    built = []
    orig = demo.VideoPredictor.__init__

    def spy(self, *a, **k):
        built.append(1)
        return orig(self, *a, **k)

    monkeypatch.setattr(demo.VideoPredictor, "__init__", spy)
    return built


CASES = {
    # case: (opts, input builder, output builder, text the error contains)
    "misspelled_key": (
        ["trian.init_checkpoint=x.pth"],
        None,
        None,
        "unknown config key 'trian'; did you mean 'train.init_checkpoint'",
    ),
    "misspelled_nested": (["model.associator.max_trakcs=3"], None, None, "did you mean 'model.associator.max_tracks'"),
    "bad_value": (
        ["model.associator.max_tracks=abc"],
        None,
        None,
        "model.associator.max_tracks=abc: expected an integer",
    ),
    "no_equals": (["model.associator.max_tracks"], None, None, "has no '='"),
    "missing_checkpoint": (
        ["train.init_checkpoint=/nope/model.pth"],
        None,
        None,
        "train.init_checkpoint=/nope/model.pth: no such file",
    ),
    "random_weights": (["train.init_checkpoint="], None, None, "would be random"),
    "output_is_file": ([], None, "afile", "is a file, not a folder"),
    "output_under_file": ([], None, "afile/sub", "which is a file"),
    "tiny_frames": ([], "tiny", None, "frames are 1x1: too small"),
    "missing_input": ([], "nope.mp4", None, "nope.mp4: no such video file"),
    "not_an_image": ([], "fake.jpg", None, "fake.jpg: unreadable image"),
    "empty_video_file": ([], "empty.mp4", None, "empty.mp4: unreadable video"),
    "device_missing": (["--device=cuda:7"], None, None, "--device cuda:7"),
    "per_frame_config": (
        ["--config-file", str(REPO / "configs" / "dnet" / "tiny_cpu.py")],
        None,
        None,
        "is a per-frame model, not a video model",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_one_line_error_before_model(tmp_path, monkeypatch, case):
    opts, inp_kind, out_kind, needle = CASES[case]
    inp = _frames(tmp_path / "clip", 2)
    if inp_kind == "tiny":
        inp = _frames(tmp_path / "tiny", 2, size=(1, 1))
    elif inp_kind:
        inp = tmp_path / inp_kind
        if inp_kind == "fake.jpg":
            inp.write_text("not an image")
        elif inp_kind == "empty.mp4":
            inp.write_bytes(b"")
    (tmp_path / "afile").write_text("x")
    out = tmp_path / (out_kind or "out")
    built = _built_models(monkeypatch)
    flags = [o for o in opts if o.startswith("--")]
    if "--config-file" in opts:
        flags = opts[:2]
    opts = [o for o in opts if o not in flags]
    with pytest.raises(SystemExit) as e:
        demo.run(_args(inp, out, *flags, opts=opts))
    msg = str(e.value)
    assert e.value.code == 2  # exit status
    assert msg.startswith("error: ") and needle in msg and "\n" not in msg, msg
    if case != "random_weights":  # that one is known only once the model is built and loaded
        assert not built
    if out.is_dir():
        assert not (out / "masks").exists() and not (out / "results.json").exists()
        assert not [f for f in os.listdir(out) if f.startswith(".tmp")]


def test_glob_across_folders_keeps_every_mask(tmp_path):
    _frames(tmp_path / "480p" / "bear", 2)
    _frames(tmp_path / "480p" / "car", 2, seed=1)
    out = tmp_path / "out"
    res = demo.run(_args(str(tmp_path / "480p" / "*" / "00000.png"), out))
    assert res["frames"] == 2
    assert sorted(p.name for p in (out / "masks").iterdir()) == ["bear__00000.png", "car__00000.png"]


def test_rerun_replaces_a_longer_run_and_uses_normal_permissions(tmp_path):
    out = tmp_path / "out"
    demo.run(_args(_frames(tmp_path / "long", 4), out))
    assert len(list((out / "masks").iterdir())) == 4
    demo.run(_args(_frames(tmp_path / "short", 2), out))
    assert sorted(p.name for p in (out / "masks").iterdir()) == ["00000.png", "00001.png"]  # no stale masks
    assert not [f for f in os.listdir(out) if f.startswith((".tmp", ".old"))]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(os.stat(out / "masks").st_mode) == 0o777 & ~umask


def test_16bit_gray_frames_are_scaled_not_white(tmp_path):
    from uvmos.data.io import read_frame

    ramp = (np.arange(32 * 48).reshape(32, 48) * 40).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I;16")
    img = read_frame(str(tmp_path / "g16.png"))
    assert img.shape == (32, 48, 3) and img.dtype == np.uint8
    np.testing.assert_array_equal(img[..., 0], np.round(ramp / 257.0).astype(np.uint8))
    blank = np.zeros((32, 48), np.uint16)
    Image.fromarray(blank).save(tmp_path / "blank.png")
    assert read_frame(str(tmp_path / "blank.png")).max() == 0  # a black frame stays black


def test_frame_stems_unique():
    from uvmos.data.folder import frame_stems

    assert frame_stems(["a/1.jpg", "a/2.jpg"]) == ["1", "2"]
    assert frame_stems(["x/bear/0.jpg", "x/car/0.jpg"]) == ["bear__0", "car__0"]


# ---------------------------------------------------------------------------------------------
# VideoPredictor (docs/python_api.md)
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["int", "float_array", "empty_list", "dict_without_height", "dict_without_frames"])
def test_predictor_source_validation(tmp_path, case):
    from uvmos.data.video_dict import DatasetFormatError
    from uvmos.engine.predictor import as_video

    src, exc, needle = {
        "int": (5, TypeError, "cannot read a int"),
        "float_array": (np.zeros((2, 8, 8, 3), np.float32), TypeError, "uint8 BGR frames"),
        "empty_list": ([], TypeError, "non-empty list of frame file paths"),
        "dict_without_height": (
            {"video_id": "v", "width": 8, "length": 1, "file_names": ["a.jpg"]},
            DatasetFormatError,
            "lacks ['height']",
        ),
        "dict_without_frames": (
            {"video_id": "v", "height": 8, "width": 8, "length": 1},
            DatasetFormatError,
            "neither file_names nor video_file",
        ),
    }[case]
    with pytest.raises(exc, match=None) as e:
        as_video(src)
    assert needle in str(e.value)


def test_predictor_accepts_array_and_list_and_refuses_random(tmp_path):
    from uvmos.engine.checkpoint import CheckpointError
    from uvmos.engine.predictor import VideoPredictor
    from uvmos.utils.config import load_config

    cfg = load_config(CONFIG)
    with pytest.raises(CheckpointError, match="would be random"):
        VideoPredictor(cfg, checkpoint="", device="cpu")
    pred = VideoPredictor(cfg, device="cpu")  # the embedded weights of the config
    assert pred.checkpoint.endswith("uvmos_tiny_cpu.pth")
    frames = np.random.default_rng(0).integers(0, 255, (2, 64, 96, 3), dtype=np.uint8)
    outs = list(pred(frames))
    assert [o.frame_idx for _, o in outs] == [0, 1] and outs[0][1].id_map.shape == (64, 96)
    files = sorted(str(p) for p in _frames(tmp_path / "f", 2).iterdir())
    assert len(list(pred(files))) == 2


def test_unwritable_output_named(tmp_path):
    from uvmos.utils.config import ConfigError, check_output_dir

    target = "/proc/uvmos-cannot-write/out"  # not writable even as root
    if not os.path.isdir("/proc"):
        pytest.skip("no /proc")
    with pytest.raises(ConfigError, match=f"--output {target}: cannot be written"):
        check_output_dir(target, "--output")
