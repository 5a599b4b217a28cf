"""Video datasets as per-frame detectron2 dicts (Mask R-CNN / SOLO training), through detectron2's
own DatasetMapper and train loader."""

import pytest
from _data_helpers import make_davis, moving_boxes
from detectron2.data import DatasetCatalog, DatasetMapper, MetadataCatalog, build_detection_train_loader
from detectron2.structures import BoxMode

import uvmos  # noqa: F401
from uvmos.data.builtin import register_davis
from uvmos.data.frame_dicts import get_frame_instance_dicts

NAME = "uvmos_test_frame_dicts"


@pytest.fixture
def dataset(tmp_path):
    root = make_davis(str(tmp_path / "DAVIS"), {"a": moving_boxes(T=3), "b": moving_boxes(T=4)}, annotate={"b": [0, 2]})
    register_davis(NAME, root, "train", annotated_frames="first")
    yield NAME
    DatasetCatalog.remove(NAME)
    MetadataCatalog.remove(NAME)


def test_one_dict_per_annotated_frame(dataset):
    dicts = get_frame_instance_dicts(dataset)
    videos = {v["video_id"]: v for v in DatasetCatalog.get(dataset)}
    expected = [("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 2)]  # b has ground truth on frames 0 and 2
    assert [(d["video_id"], d["frame_idx"]) for d in dicts] == expected
    d = dicts[1]
    assert d["file_name"] == videos["a"]["file_names"][1]
    assert len(d["annotations"]) == 2 and all(a["category_id"] == 0 for a in d["annotations"])
    a = d["annotations"][0]
    assert a["bbox_mode"] == BoxMode.XYXY_ABS and a["segmentation"]["size"] == [48, 64]
    assert len({x["image_id"] for x in dicts}) == len(dicts)


def test_detectron2_mapper_and_loader(dataset):
    mapper = DatasetMapper(
        is_train=True,
        augmentations=[],
        image_format="BGR",
        use_instance_mask=True,
        instance_mask_format="bitmask",
        recompute_boxes=True,
    )
    dicts = get_frame_instance_dicts(dataset, drop_empty=True)
    out = mapper(dicts[0])
    inst = out["instances"]
    assert len(inst) == 2 and inst.gt_masks.tensor.shape[1:] == (48, 64)
    # box 1 of moving_boxes at t=0: x 4..24, y 6..30 (exclusive ends) -> recomputed from the mask
    assert inst.gt_boxes.tensor[0].tolist() == [4.0, 6.0, 24.0, 30.0]
    batch = next(iter(build_detection_train_loader(dataset=dicts, mapper=mapper, total_batch_size=2, num_workers=0)))
    assert len(batch) == 2


def test_no_frames_is_an_error(tmp_path):
    with pytest.raises(KeyError):
        get_frame_instance_dicts("uvmos_no_such_dataset")
