"""DAVIS loader and built-in registrations: real DAVIS-2016 sequences, tiny DAVIS-2017 layouts, bad input."""

import os

import numpy as np
import pytest
from _data_helpers import make_davis, moving_boxes, save_palette_png
from detectron2.data import DatasetCatalog, MetadataCatalog
from PIL import Image

import uvmos  # noqa: F401  (registers the built-in datasets)
from uvmos.data.builtin import register_all, register_davis
from uvmos.data.davis import load_davis_videos
from uvmos.data.video_dict import DatasetFormatError, check_video_dict, id_map_from_instances, rle_to_mask


def _assert_non_overlapping(video):
    for frame in video["annotations"]:
        if frame:
            stack = np.stack([rle_to_mask(i["segmentation"]) for i in frame])
            assert stack.sum(0).max() <= 1


@pytest.mark.parametrize("split", ["train", "val"])
def test_shared_davis2016_through_catalog(shared_data, split):
    root = shared_data / "davis2016"
    seqs = (root / "ImageSets/480p" / f"{split}.txt").read_text().split()
    videos = DatasetCatalog.get(f"davis2016_shared_{split}")
    assert [v["video_id"] for v in videos] == seqs
    for v in videos:
        check_video_dict(v)
        n_files = len(os.listdir(root / "JPEGImages/480p" / v["video_id"]))
        assert v["length"] == n_files == len(v["file_names"]) == len(v["annotations"])
        assert (v["height"], v["width"]) == (480, 854)
        assert all(v["annotated"])
        # one primary object, instance id 1, class-agnostic, on (almost) every frame
        ids = {i["instance_id"] for f in v["annotations"] for i in f}
        assert ids == {1} and {i["category_id"] for f in v["annotations"] for i in f} == {0}
        assert sum(bool(f) for f in v["annotations"]) >= 0.9 * v["length"]
    # pixel-exact against the PNG of one frame
    v = videos[0]
    png = np.array(Image.open(root / "Annotations/480p" / v["video_id"] / "00000.png"))
    png = png[..., 0] if png.ndim == 3 else png
    np.testing.assert_array_equal(id_map_from_instances(v["annotations"][0], 480, 854), (png == 255).astype(np.int32))
    meta = MetadataCatalog.get(f"davis2016_shared_{split}")
    assert meta.evaluator_type == "davis" and meta.thing_classes == ["object"]


def test_davis2017_palette_ids_void_and_flags(tmp_path):
    maps = moving_boxes(T=3)
    root = make_davis(str(tmp_path / "DAVIS"), {"boxes": maps, "other": maps[:2]})
    videos = load_davis_videos(root, "train")
    assert [v["video_id"] for v in videos] == ["boxes", "other"]
    v = videos[0]
    check_video_dict(v)
    assert v["length"] == 3 and (v["height"], v["width"]) == (48, 64) and v["annotated"] == [True] * 3
    for t, m in enumerate(maps):
        np.testing.assert_array_equal(id_map_from_instances(v["annotations"][t], 48, 64), np.where(m == 255, 0, m))
        np.testing.assert_array_equal(rle_to_mask(v["void"][t]), m == 255)
        assert [i["instance_id"] for i in v["annotations"][t]] == [1, 2]
        x0, y0, x1, y1 = v["annotations"][t][0]["bbox"]
        assert (x0, y0, x1, y1) == (4 + 3 * t, 6, 24 + 3 * t, 30)
    _assert_non_overlapping(v)


def test_davis2017_test_dev_first_frame_only(tmp_path):
    root = make_davis(str(tmp_path / "DAVIS"), {"s": moving_boxes(T=4)}, image_set="test-dev", annotate={"s": [0]})
    with pytest.raises(DatasetFormatError, match="count mismatch"):
        load_davis_videos(root, "test-dev")
    (v,) = load_davis_videos(root, "test-dev", annotated_frames="first")
    assert v["annotated"] == [True, False, False, False]
    assert len(v["annotations"][0]) == 2 and v["annotations"][1:] == [[], [], []]


def test_davis2016_per_frame_image_set_lines(tmp_path):
    root = make_davis(str(tmp_path / "D16"), {"a": moving_boxes(T=2)}, year="2016", binary=True, frame_ext=".jpg")
    with open(os.path.join(root, "ImageSets/480p/val.txt"), "w") as f:
        for t in range(2):
            f.write(f"/JPEGImages/480p/a/{t:05d}.jpg /Annotations/480p/a/{t:05d}.png\n")
    (v,) = load_davis_videos(root, "val", binary=True, year="2016")
    assert v["length"] == 2 and [len(f) for f in v["annotations"]] == [1, 1]
    assert v["annotations"][0][0]["instance_id"] == 1


def test_registration_is_lazy_and_names_the_path(tmp_path):
    missing = str(tmp_path / "nowhere")
    register_davis("uvmos_test_missing_davis", missing, "train")  # nothing read yet
    with pytest.raises(DatasetFormatError, match="nowhere"):
        DatasetCatalog.get("uvmos_test_missing_davis")
    DatasetCatalog.remove("uvmos_test_missing_davis")
    MetadataCatalog.remove("uvmos_test_missing_davis")


def test_synthetic_registration_layout(tmp_path):
    """``uvmos_synth_*`` read ROOT/uvmos_synth in the DAVIS layout (ImageSets/2017/{train,val,test})."""
    synth = str(tmp_path / "uvmos_synth")
    for split in ("train", "val", "test"):
        make_davis(synth, {f"{split}_0000": moving_boxes(T=2)}, image_set=split)
    try:
        register_all(str(tmp_path))
        for split in ("train", "val", "test"):
            (v,) = DatasetCatalog.get(f"uvmos_synth_{split}")
            assert v["video_id"] == f"{split}_0000" and v["length"] == 2
        assert MetadataCatalog.get("uvmos_synth_val").evaluator_type == "davis"
        with pytest.raises(DatasetFormatError, match=os.path.join("uvmos_synth", "ytvis", "train.json")):
            DatasetCatalog.get("uvmos_synth_ytvis_train")
    finally:
        register_all()  # restore the default roots for the other tests


# ---------------------------------------------------------------------------- bad input (issue #2 item 5)
@pytest.fixture
def davis_root(tmp_path):
    return make_davis(str(tmp_path / "DAVIS"), {"s": moving_boxes(T=3)})


def test_missing_sequence_folder(davis_root):
    with open(os.path.join(davis_root, "ImageSets/2017/train.txt"), "a") as f:
        f.write("ghost\n")
    with pytest.raises(DatasetFormatError, match=os.path.join("JPEGImages", "480p", "ghost")):
        load_davis_videos(davis_root, "train")


def test_missing_image_set_and_empty_folder(davis_root):
    with pytest.raises(DatasetFormatError, match=os.path.join("ImageSets", "2017", "val.txt")):
        load_davis_videos(davis_root, "val")
    os.makedirs(os.path.join(davis_root, "JPEGImages/480p/empty"))
    with open(os.path.join(davis_root, "ImageSets/2017/train.txt"), "a") as f:
        f.write("empty\n")
    with pytest.raises(DatasetFormatError, match=r"empty.*no images"):
        load_davis_videos(davis_root, "train")


def test_frame_annotation_count_mismatch(davis_root):
    os.remove(os.path.join(davis_root, "Annotations/480p/s/00001.png"))
    with pytest.raises(DatasetFormatError, match=r"Annotations/480p/s.*3 frames.*2 matching.*00001\.png"):
        load_davis_videos(davis_root, "train")


def test_annotation_without_frame(davis_root):
    os.remove(os.path.join(davis_root, "JPEGImages/480p/s/00002.png"))
    with pytest.raises(DatasetFormatError, match=r"Annotations/480p/s/00002\.png.*no frame"):
        load_davis_videos(davis_root, "train")


def test_annotation_size_mismatch(davis_root):
    bad = os.path.join(davis_root, "Annotations/480p/s/00001.png")
    save_palette_png(bad, np.zeros((40, 64), np.uint8))
    with pytest.raises(DatasetFormatError, match=r"Annotations/480p/s/00001\.png.*64x40.*64x48"):
        load_davis_videos(davis_root, "train")


def test_frame_size_mismatch_within_video(davis_root):
    Image.fromarray(np.zeros((40, 64, 3), np.uint8)).save(os.path.join(davis_root, "JPEGImages/480p/s/00002.png"))
    with pytest.raises(DatasetFormatError, match=r"JPEGImages/480p/s/00002\.png.*differs"):
        load_davis_videos(davis_root, "train")


def test_rgb_annotation_png(davis_root):
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[10:20, 10:20] = (128, 0, 0)
    Image.fromarray(rgb).save(os.path.join(davis_root, "Annotations/480p/s/00000.png"))
    with pytest.raises(DatasetFormatError, match=r"Annotations/480p/s/00000\.png.*RGB"):
        load_davis_videos(davis_root, "train")


def test_out_of_range_binary_values(tmp_path):
    root = make_davis(str(tmp_path / "D16"), {"a": moving_boxes(T=2)}, year="2016", binary=True)
    m = np.zeros((48, 64), np.uint8)
    m[5:10, 5:10] = 1  # a 0/1 mask where DAVIS-2016 stores 0/255
    Image.fromarray(m, "L").save(os.path.join(root, "Annotations/480p/a/00001.png"))
    with pytest.raises(DatasetFormatError, match=r"a/00001\.png.*only 0 and 255"):
        load_davis_videos(root, "train", binary=True, year="2016")


def test_unreadable_frame(davis_root):
    with open(os.path.join(davis_root, "JPEGImages/480p/s/00001.png"), "wb") as f:
        f.write(b"\x89PNG garbage")
    with pytest.raises(DatasetFormatError, match=r"JPEGImages/480p/s/00001\.png.*unreadable"):
        load_davis_videos(davis_root, "train")
