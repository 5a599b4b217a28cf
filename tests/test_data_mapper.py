"""FramePairMapper: both frames get the same transform, masks stay on their pixels, gap sampling."""

import os

import numpy as np
import pytest
import torch
from _data_helpers import BG, boxes_id_map, colour, make_davis, moving_boxes, render, save_frame
from detectron2.data import transforms as T
from scipy import ndimage

from uvmos.data.davis import load_davis_videos
from uvmos.data.mapper import FramePairMapper
from uvmos.data.transforms import RandomScale, build_mapper_augmentations
from uvmos.data.video_dict import instances_from_id_map

CROP = (40, 40)


@pytest.fixture
def video(tmp_path):
    (v,) = load_davis_videos(make_davis(str(tmp_path / "DAVIS"), {"s": moving_boxes(T=3)}), "train")
    return v


def _paper_mapper(**kw):
    augs = build_mapper_augmentations(scale_range=(0.8, 1.5), flip_prob=0.5, crop_size=CROP)
    return FramePairMapper(True, augs, **kw)


def _check_alignment(image, instances, sem_seg):
    """Every mask sits on pixels of its instance's colour; background on BG; padding is ignore."""
    img = image.permute(1, 2, 0).numpy().astype(int)
    sem = sem_seg.numpy()
    masks = instances.gt_masks.tensor.numpy()
    assert not (masks.sum(0) > 1).any()  # never overlapping
    assert ((sem != 0) & (sem != 255) == masks.any(0)).all()  # sem_seg foreground == union of masks
    for m, iid, box in zip(masks, instances.gt_ids.tolist(), instances.gt_boxes.tensor.tolist()):
        ys, xs = np.nonzero(m)
        assert box == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        inner = ndimage.binary_erosion(m, iterations=2)
        if inner.any():
            assert np.abs(img[inner] - colour(iid)).max() <= 2, f"instance {iid} mask is off its pixels"
    bg = ndimage.binary_erosion(sem == 0, iterations=2)
    assert bg.any() and np.abs(img[bg] - BG).max() <= 2
    pad = (img == 128).all(-1)
    assert (sem[pad] == 255).all()


def test_pairs_are_spatially_consistent(video):
    mapper = _paper_mapper()
    for seed in range(12):
        np.random.seed(seed)
        out = mapper({"video": video, "frame_idx": 2})
        assert out["image"].shape == out["prev_image"].shape == (3,) + CROP and out["image"].dtype == torch.uint8
        assert out["sem_seg"].dtype == torch.int64 and out["sem_seg"].shape == CROP
        assert out["prev_frame_idx"] == 1 and (out["height"], out["width"]) == (48, 64)
        _check_alignment(out["image"], out["instances"], out["sem_seg"])
        _check_alignment(out["prev_image"], out["prev_instances"], out["prev_sem_seg"])


def test_both_frames_get_the_same_transform(tmp_path):
    still = [boxes_id_map(48, 64, {1: (4, 6, 24, 30), 2: (40, 10, 60, 40)})] * 2
    (v,) = load_davis_videos(make_davis(str(tmp_path / "D"), {"still": still}), "train")
    mapper = _paper_mapper()
    seen_flip = seen_scale = False
    for seed in range(10):
        np.random.seed(seed)
        out = mapper({"video": v, "frame_idx": 1})
        assert out["prev_frame_idx"] == 0
        assert torch.equal(out["image"], out["prev_image"])
        assert torch.equal(out["sem_seg"], out["prev_sem_seg"])
        assert torch.equal(out["instances"].gt_masks.tensor, out["prev_instances"].gt_masks.tensor)
        assert torch.equal(out["instances"].gt_ids, out["prev_instances"].gt_ids)
        _check_alignment(out["image"], out["instances"], out["sem_seg"])
        # instance 1 is left of instance 2 unless the pair was flipped
        m = {i: mk for i, mk in zip(out["instances"].gt_ids.tolist(), out["instances"].gt_masks.tensor.numpy())}
        if 1 in m and 2 in m:
            seen_flip |= np.nonzero(m[1])[1].mean() > np.nonzero(m[2])[1].mean()
        seen_scale |= bool((out["sem_seg"] == 255).sum() != 2 * CROP[1])
    assert seen_flip and seen_scale


def test_relative_motion_is_preserved(video):
    """Instance 1 moves +3 px in x from t-1 to t; after scale s and flip the shift is ±3s, same for all pixels."""
    mapper = FramePairMapper(True, [RandomScale(1.5, 1.5), T.RandomFlip(prob=1.0)])
    out = mapper({"video": video, "frame_idx": 2})
    cur = out["instances"].gt_masks.tensor[0].numpy()
    prev = out["prev_instances"].gt_masks.tensor[0].numpy()
    shift = np.nonzero(prev)[1].mean() - np.nonzero(cur)[1].mean()
    assert shift == pytest.approx(4.5, abs=0.6)  # flipped: the object moved left by 3 * 1.5


def test_first_frame_pairs_with_itself_and_gap_sampling(video):
    mapper = _paper_mapper(max_gap=3)
    out = mapper({"video": video, "frame_idx": 0})
    assert out["prev_frame_idx"] == 0 and torch.equal(out["image"], out["prev_image"])
    np.random.seed(0)
    gaps = {mapper({"video": video, "frame_idx": 2})["prev_frame_idx"] for _ in range(30)}
    assert gaps == {0, 1}
    test_mapper = FramePairMapper(False, [], max_gap=3)
    assert test_mapper({"video": video, "frame_idx": 2})["prev_frame_idx"] == 1


def test_unannotated_frames_are_never_the_previous_frame(tmp_path):
    root = make_davis(str(tmp_path / "D"), {"s": moving_boxes(T=3)}, annotate={"s": [0, 2]})
    (v,) = load_davis_videos(root, "train", annotated_frames="first")
    assert v["annotated"] == [True, False, True]
    assert FramePairMapper(True, [], max_gap=1)({"video": v, "frame_idx": 2})["prev_frame_idx"] == 2
    assert FramePairMapper(True, [], max_gap=2)({"video": v, "frame_idx": 2})["prev_frame_idx"] == 0
    out = FramePairMapper(True, [], max_gap=1)({"video": v, "frame_idx": 1})  # an unannotated current frame
    assert not out["annotated"] and len(out["instances"]) == 0 and (out["sem_seg"] == 255).all()


def test_empty_after_crop_and_target_generator(video):
    calls = []

    def add_center(d):
        calls.append(d["frame_idx"])
        d["center"] = torch.zeros(d["sem_seg"].shape)

    mapper = FramePairMapper(True, [T.CropTransform(58, 0, 6, 6)], target_generator=add_center)
    out = mapper({"video": video, "frame_idx": 1})
    assert len(out["instances"]) == 0 and out["instances"].gt_masks.tensor.shape == (0, 6, 6)
    assert out["instances"].gt_boxes.tensor.shape == (0, 4) and out["instances"].gt_ids.dtype == torch.int64
    assert set(out["sem_seg"].unique().tolist()) == {0, 255}  # background and the void strip
    assert calls == [1] and out["center"].shape == (6, 6)


def test_categories_in_sem_seg_and_classes(tmp_path):
    maps = moving_boxes(T=2)
    files = []
    for t, m in enumerate(maps):
        files.append(os.path.join(str(tmp_path), f"{t}.png"))
        save_frame(files[-1], render(m))
    v = {
        "video_id": "v",
        "file_names": files,
        "height": 48,
        "width": 64,
        "length": 2,
        "annotations": [instances_from_id_map(m, category_ids={1: 3, 2: 0}) for m in maps],
    }
    out = FramePairMapper(True, [])({"video": v, "frame_idx": 1})
    assert out["instances"].gt_classes.tolist() == [3, 0] and out["instances"].gt_ids.tolist() == [1, 2]
    sem = out["sem_seg"].numpy()
    assert set(np.unique(sem).tolist()) == {0, 1, 4}  # 255 absent: this video dict has no "void"
    assert (sem == 4).sum() == out["instances"].gt_masks.tensor[0].sum()


def test_random_scale_uses_the_frames_own_size():
    img = np.zeros((50, 80, 3), np.uint8)
    for seed in range(5):
        np.random.seed(seed)
        tfm = RandomScale(0.8, 1.5).get_transform(img)
        s = tfm.new_h / 50
        assert 0.8 <= s <= 1.5 and abs(tfm.new_w / 80 - s) < 0.02
    assert [type(a).__name__ for a in build_mapper_augmentations()] == ["RandomScale", "RandomFlip", "FixedSizeCrop"]
    assert build_mapper_augmentations(is_train=False) == []
