"""YouTube-VIS / CocoVID loader: the real sample, the YTVIS-2019 layout, overlap rule, bad input."""

import json

import numpy as np
import pytest
from _data_helpers import write_ytvis_json
from detectron2.data import DatasetCatalog, MetadataCatalog

import uvmos  # noqa: F401
from uvmos.data.builtin import register_ytvis
from uvmos.data.video_dict import DatasetFormatError, check_video_dict, mask_to_rle, rle_to_mask
from uvmos.data.ytvis import YTVIS_2019_CATEGORIES, YTVIS_2021_CATEGORIES, load_ytvis_json

H, W = 24, 32


def _box(x0, y0, x1, y1):
    m = np.zeros((H, W), bool)
    m[y0:y1, x0:x1] = True
    return m


def _uncompressed(mask):
    """Uncompressed RLE (list counts, column-major), as YouTube-VIS stores it."""
    flat = mask.T.reshape(-1).astype(np.uint8)
    counts, cur, run = [], 0, 0
    for v in flat:
        if v != cur:
            counts.append(run)
            cur, run = v, 0
        run += 1
    counts.append(run)
    return {"counts": counts, "size": [H, W]}


def test_category_tables():
    assert len(YTVIS_2019_CATEGORIES) == len(YTVIS_2021_CATEGORIES) == 40
    assert YTVIS_2019_CATEGORIES[5] == {"id": 6, "name": "sedan"}
    assert YTVIS_2021_CATEGORIES[-1] == {"id": 40, "name": "zebra"}


def test_shared_ytvis_sample_through_catalog(shared_data):
    videos = DatasetCatalog.get("ytvis_2019_shared_sample")
    meta = MetadataCatalog.get("ytvis_2019_shared_sample")
    (v,) = videos
    check_video_dict(v)
    assert v["video_id"] == "0043f083b5" and v["length"] == 20 and (v["height"], v["width"]) == (720, 1280)
    assert v["file_names"][1].endswith("0043f083b5/00005.jpg")
    # 30 annotations of 2 sedans on 18 frames (the first two frames have none)
    assert [len(f) for f in v["annotations"]][:3] == [0, 0, 1]
    assert sum(len(f) for f in v["annotations"]) == 30
    assert {i["instance_id"] for f in v["annotations"] for i in f} == {1, 2}
    sedan = meta.thing_dataset_id_to_contiguous_id[6]
    assert meta.thing_classes[sedan] == "sedan"
    assert {i["category_id"] for f in v["annotations"] for i in f} == {sedan}
    for frame in v["annotations"]:
        if frame:
            assert np.stack([rle_to_mask(i["segmentation"]) for i in frame]).sum(0).max() <= 1
    assert meta.evaluator_type == "ytvis"


def _ytvis_layout(tmp_path, segs_a, segs_b, cat_b=2, **video_kw):
    videos = [{"id": 7, "width": W, "height": H, "length": 2, "file_names": ["vid/0.jpg", "vid/1.jpg"], **video_kw}]
    anns = [
        {"id": 11, "video_id": 7, "category_id": 1, "iscrowd": 0, "segmentations": segs_a},
        {"id": 12, "video_id": 7, "category_id": cat_b, "iscrowd": 0, "segmentations": segs_b},
    ]
    cats = [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
    return write_ytvis_json(str(tmp_path / "train.json"), videos, anns, cats)


def test_ytvis_layout_and_overlap_rule(tmp_path):
    big, small = _box(0, 0, 20, 20), _box(10, 10, 16, 16)  # small lies inside big on frame 0
    compressed = mask_to_rle(_box(2, 2, 8, 8))
    js = _ytvis_layout(tmp_path, [_uncompressed(big), compressed], [_uncompressed(small), None])
    register_ytvis("uvmos_test_ytvis", js, str(tmp_path / "JPEGImages"))
    try:
        (v,) = DatasetCatalog.get("uvmos_test_ytvis")
        meta = MetadataCatalog.get("uvmos_test_ytvis")
        assert meta.thing_classes == ["cat", "dog"] and meta.thing_dataset_id_to_contiguous_id == {1: 0, 2: 1}
    finally:
        DatasetCatalog.remove("uvmos_test_ytvis")
        MetadataCatalog.remove("uvmos_test_ytvis")
    check_video_dict(v)
    assert v["video_id"] == "vid" and v["json_video_id"] == 7 and v["annotated"] == [True, True]
    f0 = {i["instance_id"]: i for i in v["annotations"][0]}
    assert [(i["source_id"], i["category_id"]) for i in f0.values()] == [(11, 0), (12, 1)]
    # the smaller mask keeps the contested pixels; the big one loses exactly them
    np.testing.assert_array_equal(rle_to_mask(f0[2]["segmentation"]), small)
    np.testing.assert_array_equal(rle_to_mask(f0[1]["segmentation"]), big & ~small)
    assert f0[1]["bbox"] == [0, 0, 20, 20]
    # frame 1: instance 2 absent (null), instance 1 from a compressed RLE
    assert [i["instance_id"] for i in v["annotations"][1]] == [1]
    np.testing.assert_array_equal(rle_to_mask(v["annotations"][1][0]["segmentation"]), _box(2, 2, 8, 8))


def test_fully_covered_instance_is_dropped_and_crowd_is_void(tmp_path):
    a = _box(0, 0, 10, 10)
    videos = [{"id": 1, "width": W, "height": H, "length": 1, "file_names": ["v/0.jpg"]}]
    anns = [
        {"id": 1, "video_id": 1, "category_id": 1, "iscrowd": 0, "segmentations": [_uncompressed(a)]},
        {"id": 2, "video_id": 1, "category_id": 1, "iscrowd": 0, "segmentations": [_uncompressed(a)]},
        {"id": 3, "video_id": 1, "category_id": 1, "iscrowd": 1, "segmentations": [_uncompressed(_box(20, 0, 30, 5))]},
    ]
    js = write_ytvis_json(str(tmp_path / "a.json"), videos, anns, [{"id": 1, "name": "x"}])
    (v,) = load_ytvis_json(js, str(tmp_path))
    # equal areas: the lower instance id wins, the other one is empty and dropped
    assert [i["instance_id"] for i in v["annotations"][0]] == [1]
    np.testing.assert_array_equal(rle_to_mask(v["void"][0]), _box(20, 0, 30, 5))


def test_no_annotations_means_no_ground_truth(tmp_path):
    videos = [{"id": 1, "width": W, "height": H, "length": 1, "file_names": ["v/0.jpg"]}]
    js = str(tmp_path / "valid.json")
    with open(js, "w") as f:
        json.dump({"videos": videos, "categories": YTVIS_2019_CATEGORIES}, f)
    (v,) = load_ytvis_json(js, str(tmp_path))
    assert v["annotations"] is None


def test_bad_json_inputs(tmp_path):
    with pytest.raises(DatasetFormatError, match="missing.json"):
        load_ytvis_json(str(tmp_path / "missing.json"), str(tmp_path))
    m = _uncompressed(_box(0, 0, 4, 4))
    js = _ytvis_layout(tmp_path, [m, m], [m, m], cat_b=9)
    with pytest.raises(DatasetFormatError, match=r"train\.json.*category_id 9"):
        load_ytvis_json(js, str(tmp_path))
    bad = dict(m, size=[H + 1, W])
    js = _ytvis_layout(tmp_path, [m, bad], [m, m])
    with pytest.raises(DatasetFormatError, match=r"train\.json.*frame 1.*mask size"):
        load_ytvis_json(js, str(tmp_path))
    js = _ytvis_layout(tmp_path, [m], [m, m])
    with pytest.raises(DatasetFormatError, match=r"train\.json.*1 segmentations for 2 frames"):
        load_ytvis_json(js, str(tmp_path))
    (tmp_path / "garbage.json").write_text("{not json")
    with pytest.raises(DatasetFormatError, match="garbage.json"):
        load_ytvis_json(str(tmp_path / "garbage.json"), str(tmp_path))
