"""Frame-pair items, the train loader (also from a LazyConfig) and the whole-video test loader."""

import pytest
from _data_helpers import make_davis, moving_boxes
from detectron2.config import LazyCall as L
from detectron2.config import instantiate
from detectron2.data import DatasetCatalog, MetadataCatalog

import uvmos  # noqa: F401
from uvmos.data.build import (
    FramePairDataset,
    build_frame_pair_train_loader,
    build_video_test_loader,
    get_frame_pair_dicts,
)
from uvmos.data.builtin import register_davis
from uvmos.data.mapper import FramePairMapper
from uvmos.data.transforms import build_mapper_augmentations

NAME = "uvmos_test_build_davis"


@pytest.fixture
def dataset(tmp_path):
    root = make_davis(str(tmp_path / "DAVIS"), {"a": moving_boxes(T=3), "b": moving_boxes(T=4)}, annotate={"b": [0, 2]})
    register_davis(NAME, root, "train", annotated_frames="first")
    yield NAME
    DatasetCatalog.remove(NAME)
    MetadataCatalog.remove(NAME)


def test_get_frame_pair_dicts(dataset):
    items = get_frame_pair_dicts([dataset])
    assert [(it["video"]["video_id"], it["frame_idx"]) for it in items] == [
        ("a", 0),
        ("a", 1),
        ("a", 2),
        ("b", 0),
        ("b", 2),
    ]
    assert items[0]["video"] is items[2]["video"]  # shared, not copied
    assert len(get_frame_pair_dicts(dataset, only_annotated=False)) == 7


def test_frame_pair_dataset_stores_each_video_once(dataset):
    items = get_frame_pair_dicts(dataset)
    ds = FramePairDataset(items)
    assert len(ds) == 5 and len(ds._videos) == 2
    assert ds[4]["frame_idx"] == 2 and ds[4]["video"]["video_id"] == "b"
    assert ds[4]["video"]["annotated"] == [True, False, True, False]


def test_train_loader_from_lazy_config(dataset):
    cfg = L(build_frame_pair_train_loader)(
        dataset_names=[dataset],
        mapper=L(FramePairMapper)(
            is_train=True, augmentations=L(build_mapper_augmentations)(crop_size=(32, 32)), max_gap=2
        ),
        total_batch_size=3,
        num_workers=0,
    )
    loader = instantiate(cfg)
    batch = next(iter(loader))
    assert len(batch) == 3
    for d in batch:
        assert d["image"].shape == d["prev_image"].shape == (3, 32, 32)
        assert d["video_id"] in ("a", "b") and d["annotated"]
        assert d["prev_frame_idx"] <= d["frame_idx"]


def test_video_test_loader(dataset):
    loader = build_video_test_loader(dataset)
    assert len(loader) == 2
    assert all(len(batch) == 1 for batch in loader)  # always one-video lists
    assert [v["video_id"] for (v,) in loader] == ["a", "b"]
    assert [v["length"] for (v,) in loader] == [3, 4]


def test_no_annotated_frames_is_an_error(tmp_path):
    register_davis(
        "uvmos_test_no_gt", make_davis(str(tmp_path / "D"), {"a": moving_boxes(T=2)}), "train", annotations=None
    )
    try:
        with pytest.raises(ValueError, match="No annotated frames"):
            get_frame_pair_dicts("uvmos_test_no_gt")
        assert len(get_frame_pair_dicts("uvmos_test_no_gt", only_annotated=False)) == 2
    finally:
        DatasetCatalog.remove("uvmos_test_no_gt")
        MetadataCatalog.remove("uvmos_test_no_gt")
