"""tools/demo.py: clear errors on bad input, and the three outputs on a tiny clip (random weights)."""

import json

import cv2
import demo
import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO


def _args(inp, out, *extra):
    return demo.get_parser().parse_args(
        [
            "--config-file",
            str(REPO / "configs" / "uvmos" / "tiny_cpu.py"),
            "--input",
            str(inp),
            "--output",
            str(out),
            "--allow-random-weights",
            *extra,
            "train.init_checkpoint=",
        ]
    )


def _write_frames(folder, n, size=(64, 96), odd=None):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for t in range(n):
        h, w = (size[0] + 8, size[1]) if t == odd else size
        cv2.imwrite(str(folder / f"{t:05d}.jpg"), rng.integers(0, 255, (h, w, 3), dtype=np.uint8))


@pytest.mark.parametrize("case", ["missing", "empty", "unreadable_video", "mixed_sizes", "broken_frame"])
def test_bad_input_clear_error(tmp_path, case):
    if case == "missing":
        inp, needle = tmp_path / "nope.mp4", "no such video file"
    elif case == "empty":
        inp = tmp_path / "empty"
        inp.mkdir()
        needle = "holds no images"
    elif case == "unreadable_video":
        inp = tmp_path / "bad.mp4"
        inp.write_bytes(b"this is not a video")
        needle = "unreadable video"
    elif case == "mixed_sizes":
        inp = tmp_path / "mixed"
        _write_frames(inp, 4, odd=2)
        needle = "00002.jpg: frame size"
    else:
        inp = tmp_path / "broken"
        _write_frames(inp, 3)
        (inp / "00001.jpg").write_bytes(b"\xff\xd8 truncated")
        needle = "00001.jpg: unreadable image"
    with pytest.raises(SystemExit) as e:
        demo.run(_args(inp, tmp_path / "out"))
    assert needle in str(e.value), str(e.value)
    assert not (tmp_path / "out" / "overlay.mp4").exists()


def test_demo_writes_overlay_pngs_and_json(tmp_path):
    frames = tmp_path / "clip"
    _write_frames(frames, 5)
    out = tmp_path / "out"
    res = demo.run(_args(frames, out))
    assert res["frames"] == 5
    cap = cv2.VideoCapture(str(out / "overlay.mp4"))
    n = 0
    while cap.read()[0]:
        n += 1
    assert n == 5
    pngs = sorted((out / "masks").glob("*.png"))
    assert [p.stem for p in pngs] == [f"{t:05d}" for t in range(5)]
    im = Image.open(pngs[0])
    assert im.mode == "P" and im.size == (96, 64)
    results = json.loads((out / "results.json").read_text())
    assert isinstance(results, list)
    for r in results:
        assert len(r["segmentations"]) == 5 and {"video_id", "category_id", "score"} <= set(r)
