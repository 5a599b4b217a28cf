"""Frame and annotation-PNG readers: values, modes, and the clear errors of issue #2 item 5."""

import numpy as np
import pytest
from _data_helpers import save_palette_png
from PIL import Image

from uvmos.data.io import image_size, list_images, read_annotation_png, read_frame
from uvmos.data.video_dict import DatasetFormatError


def _png(path, arr, mode=None):
    Image.fromarray(arr, mode=mode).save(path)
    return str(path)


def test_read_frame_bgr_and_size(tmp_path):
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[..., 0] = 200  # red in RGB
    p = _png(tmp_path / "f.png", rgb)
    bgr = read_frame(p)
    assert bgr.shape == (20, 30, 3) and bgr.dtype == np.uint8
    assert (bgr[..., 2] == 200).all() and (bgr[..., 0] == 0).all()
    assert (read_frame(p, format="RGB")[..., 0] == 200).all()
    assert image_size(p) == (20, 30)


@pytest.mark.parametrize("content", [None, b"not an image at all"])
def test_read_frame_missing_or_unreadable(tmp_path, content):
    p = tmp_path / "broken.jpg"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(DatasetFormatError, match="broken.jpg"):
        read_frame(str(p))
    with pytest.raises(DatasetFormatError, match="broken.jpg"):
        image_size(str(p))


def test_palette_png_ids_and_void(tmp_path):
    m = np.zeros((10, 12), np.uint8)
    m[2:5, 2:5] = 1
    m[6:9, 6:9] = 3
    m[0, :] = 255
    p = str(tmp_path / "a.png")
    save_palette_png(p, m)
    assert Image.open(p).mode == "P"
    np.testing.assert_array_equal(read_annotation_png(p), m)
    # grayscale (mode L) palette ids are read as they are
    np.testing.assert_array_equal(read_annotation_png(_png(tmp_path / "l.png", m, "L")), m)


def test_binary_png_maps_255_to_1(tmp_path):
    m = np.zeros((10, 12), np.uint8)
    m[3:6, 3:9] = 255
    out = read_annotation_png(_png(tmp_path / "b.png", m, "L"), kind="binary")
    np.testing.assert_array_equal(out, (m == 255).astype(np.uint8))


def test_gray_alpha_and_equal_rgba_use_channel0(tmp_path):
    m = np.zeros((8, 8), np.uint8)
    m[2:4, 2:6] = 255
    la = np.stack([m, np.full_like(m, 255)], -1)
    assert Image.fromarray(la, "LA").mode == "LA"
    np.testing.assert_array_equal(read_annotation_png(_png(tmp_path / "la.png", la, "LA"), kind="binary"), m // 255)
    rgba = np.stack([m, m, m, np.full_like(m, 255)], -1)
    np.testing.assert_array_equal(
        read_annotation_png(_png(tmp_path / "rgba.png", rgba, "RGBA"), kind="binary"), m // 255
    )


def test_real_davis2016_png_with_alpha(shared_data):
    p = shared_data / "davis2016/Annotations/480p/bear/00077.png"
    assert Image.open(p).mode == "LA"
    out = read_annotation_png(str(p), kind="binary", expected_size=(480, 854))
    assert out.shape == (480, 854) and set(np.unique(out)) == {0, 1}


def test_rgb_annotation_is_an_error(tmp_path):
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[2:4, 2:4] = (128, 0, 0)  # DAVIS colour of object 1, saved as RGB instead of palette
    p = _png(tmp_path / "colour.png", rgb)
    with pytest.raises(DatasetFormatError, match=r"colour\.png.*differing colour channels"):
        read_annotation_png(p)


def test_out_of_range_values(tmp_path):
    m = np.zeros((8, 8), np.uint8)
    m[1, 1] = 128  # anti-aliased edge in a binary mask
    p = _png(tmp_path / "soft.png", m, "L")
    with pytest.raises(DatasetFormatError, match=r"soft\.png.*only 0 and 255.*128"):
        read_annotation_png(p, kind="binary")
    m[1, 1] = 50
    p = _png(tmp_path / "many.png", m, "L")
    with pytest.raises(DatasetFormatError, match=r"many\.png.*0\.\.10.*50"):
        read_annotation_png(p, kind="palette", max_id=10)
    m16 = np.zeros((8, 8), np.uint16)
    m16[0, 0] = 300
    p = str(tmp_path / "deep.png")
    Image.fromarray(m16).save(p)
    with pytest.raises(DatasetFormatError, match=r"deep\.png.*300"):
        read_annotation_png(p)


def test_size_mismatch_and_missing(tmp_path):
    p = _png(tmp_path / "small.png", np.zeros((8, 8), np.uint8), "L")
    with pytest.raises(DatasetFormatError, match=r"small\.png.*8x8.*10x12.*frame\.jpg"):
        read_annotation_png(p, expected_size=(12, 10), frame_path="frame.jpg")
    with pytest.raises(DatasetFormatError, match="nothere.png"):
        read_annotation_png(str(tmp_path / "nothere.png"))


def test_list_images_natural_order(tmp_path):
    for n in ["10.png", "2.png", "1.png", "notes.txt"]:
        (tmp_path / n).write_bytes(b"")
    assert [p.split("/")[-1] for p in list_images(str(tmp_path))] == ["1.png", "2.png", "10.png"]
    with pytest.raises(DatasetFormatError, match="nofolder"):
        list_images(str(tmp_path / "nofolder"))
