"""H.264 output (browser-playable): codec, frame count, odd sizes, atomic file, errors."""

import os

import numpy as np
import pytest

av = pytest.importorskip("av", reason="PyAV (pip install av) writes the H.264 overlay")

from uvmos.engine.video_writer import H264Writer, video_codec_name  # noqa: E402
from uvmos.engine.writers import OverlayVideoWriter  # noqa: E402


def _frames(n, h=49, w=65):
    rng = np.random.default_rng(0)
    return [np.clip(rng.normal(40 * k % 255, 20, (h, w, 3)), 0, 255).astype(np.uint8) for k in range(n)]


def test_h264_writer_codec_and_frames(tmp_path):
    path = str(tmp_path / "out.mp4")
    w = H264Writer(path, fps=12)
    for f in _frames(6):
        w.write(f)
        assert not os.path.exists(path)  # only the temporary name exists while writing
    w.close()
    assert video_codec_name(path) == "h264"
    with av.open(path) as c:
        decoded = [fr.to_ndarray(format="bgr24") for fr in c.decode(video=0)]
    assert len(decoded) == 6
    assert decoded[0].shape == (48, 64, 3)  # yuv420p: odd row/column dropped
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp-")]


def test_h264_writer_rejects_size_change(tmp_path):
    w = H264Writer(str(tmp_path / "out.mp4"))
    w.write(_frames(1)[0])
    with pytest.raises(ValueError, match="out.mp4: frame 1 is 32x32"):
        w.write(np.zeros((32, 32, 3), np.uint8))
    w.abort()
    assert os.listdir(tmp_path) == []


def test_overlay_writer_default_is_h264(tmp_path):
    path = str(tmp_path / "overlay.mp4")
    ov = OverlayVideoWriter(path, fps=10)
    id_map = np.zeros((48, 64), np.int32)
    id_map[10:30, 20:40] = 1
    for f in _frames(3, 48, 64):
        ov.write(f, id_map, {1: 0.9})
    ov.close()
    assert video_codec_name(path) == "h264"
