"""Inference sources: video file, frame folder, glob; streaming and clear errors."""

import os
import types

import cv2
import numpy as np
import pytest
from PIL import Image

from uvmos.data.folder import iter_frames, load_video_source
from uvmos.data.video_dict import DatasetFormatError


def _write_frames(folder, names, size=(48, 64)):
    os.makedirs(folder, exist_ok=True)
    for k, n in enumerate(names):
        Image.fromarray(np.full(size + (3,), 10 * k, np.uint8)).save(os.path.join(folder, n))


def test_video_file_streams(tmp_path):
    path = str(tmp_path / "clip.mp4")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), 12.0, (64, 48))
    levels = [0, 60, 120, 180, 240]
    for v in levels:
        writer.write(np.full((48, 64, 3), v, np.uint8))
    writer.release()
    video = load_video_source(path)
    assert video["video_file"] == path and video["video_id"] == "clip" and "file_names" not in video
    assert (video["length"], video["height"], video["width"], video["fps"]) == (5, 48, 64, 12.0)
    assert video["annotations"] is None
    frames = iter_frames(video)
    assert isinstance(frames, types.GeneratorType)
    got = [(t, f.shape, f.dtype, float(f.mean())) for t, f in frames]
    assert [g[0] for g in got] == list(range(5))
    assert all(g[1] == (48, 64, 3) and g[2] == np.uint8 for g in got)
    np.testing.assert_allclose([g[3] for g in got], levels, atol=6)  # lossy codec


def test_folder_and_glob_natural_order(tmp_path):
    folder = str(tmp_path / "frames")
    _write_frames(folder, ["1.png", "2.png", "10.png"])
    video = load_video_source(folder)
    assert video["video_id"] == "frames" and video["length"] == 3 and (video["height"], video["width"]) == (48, 64)
    assert [os.path.basename(p) for p in video["file_names"]] == ["1.png", "2.png", "10.png"]
    assert [int(f[0, 0, 0]) for _, f in iter_frames(video)] == [0, 10, 20]
    g = load_video_source(os.path.join(folder, "*.png"))
    assert g["file_names"] == video["file_names"] and g["video_id"] == "frames"


def test_streaming_is_lazy_and_names_the_bad_frame(tmp_path):
    folder = str(tmp_path / "f")
    _write_frames(folder, ["00000.jpg", "00001.jpg"])
    _write_frames(folder, ["00002.jpg"], size=(40, 64))  # a frame of another size
    with open(os.path.join(folder, "00003.jpg"), "wb") as f:
        f.write(b"garbage")
    video = load_video_source(folder)
    it = iter_frames(video)
    assert next(it)[0] == 0 and next(it)[0] == 1  # nothing read beyond what was asked
    with pytest.raises(DatasetFormatError, match=r"00002\.jpg.*64x40.*64x48"):
        next(it)
    os.remove(os.path.join(folder, "00002.jpg"))
    with pytest.raises(DatasetFormatError, match=r"00003\.jpg.*unreadable"):
        list(iter_frames(load_video_source(folder)))


def test_shared_bedroom_frames(shared_data):
    video = load_video_source(str(shared_data / "bedroom-video" / "frames"))
    assert video["length"] == 200 and (video["height"], video["width"]) == (540, 960)
    t, frame = next(iter_frames(video))
    assert t == 0 and frame.shape == (540, 960, 3)


def test_bad_sources(tmp_path):
    with pytest.raises(DatasetFormatError, match="nothing.mp4"):
        load_video_source(str(tmp_path / "nothing.mp4"))
    os.makedirs(tmp_path / "empty")
    with pytest.raises(DatasetFormatError, match=r"empty.*no images"):
        load_video_source(str(tmp_path / "empty"))
    with pytest.raises(DatasetFormatError, match=r"\*\.jpg.*matches no image"):
        load_video_source(str(tmp_path / "*.jpg"))
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 64)
    with pytest.raises(DatasetFormatError, match=r"broken\.mp4.*unreadable video"):
        load_video_source(str(tmp_path / "broken.mp4"))
