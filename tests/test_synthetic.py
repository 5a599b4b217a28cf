"""The synthetic benchmark: determinism, mask invariants, scene events, the written formats."""

import json
import time
from pathlib import Path

import numpy as np
import pycocotools.mask as mask_util
import pytest
from PIL import Image

from uvmos.data.io import davis_palette
from uvmos.data.synthetic import (
    CATEGORIES,
    SPLITS,
    SyntheticConfig,
    SyntheticRootError,
    generate_video,
    make_synthetic_dataset,
    split_seed_base,
    write_split,
)

REPO = Path(__file__).resolve().parents[1]
TINY = SyntheticConfig(height=96, width=128, length=6)


def _files(root):
    root = Path(root)
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth") / "uvmos_synth"
    make_synthetic_dataset(str(root), TINY, num_train=3, num_val=2, num_test=2, seed=0, progress=False)
    return root


@pytest.fixture(scope="module")
def batch():
    return [generate_video(split_seed_base(0, "train") + i, TINY) for i in range(10)]


def test_bytes_identical_for_one_seed_and_different_for_another(tiny_root, tmp_path):
    again = tmp_path / "again"
    make_synthetic_dataset(str(again), TINY, num_train=3, num_val=2, num_test=2, seed=0, progress=False)
    a, b = _files(tiny_root), _files(again)
    assert a.keys() == b.keys() and len(a) > 50
    assert all(a[k] == b[k] for k in a), [k for k in a if a[k] != b[k]][:5]

    other = tmp_path / "other"
    make_synthetic_dataset(str(other), TINY, num_train=3, num_val=2, num_test=2, seed=1, progress=False)
    c = _files(other)
    assert a.keys() - {"manifest.json"} == c.keys() - {"manifest.json"}
    for sub in (
        "JPEGImages/480p/synth_train_0000/00000.jpg",
        "JPEGImages/480p/synth_val_0001/00005.jpg",
        "Annotations/480p/synth_test_0000/00003.png",
        "ytvis/train.json",
    ):
        assert a[sub] != c[sub], sub


def test_generate_video_deterministic_and_splits_disjoint():
    v1, v2, v3 = generate_video(7, TINY), generate_video(7, TINY), generate_video(8, TINY)
    assert all((f1 == f2).all() for f1, f2 in zip(v1.frames, v2.frames))
    assert all((m1 == m2).all() for m1, m2 in zip(v1.id_maps, v2.id_maps))
    assert any((f1 != f3).any() for f1, f3 in zip(v1.frames, v3.frames))
    ranges = [range(split_seed_base(s, sp), split_seed_base(s, sp) + 10**6) for s in (0, 1) for sp in SPLITS]
    for i, r in enumerate(ranges):
        for q in ranges[i + 1 :]:
            assert r.stop <= q.start or q.stop <= r.start


def test_masks_ids_and_categories(batch):
    for v in batch:
        K = len(v.categories)
        assert 1 <= K <= TINY.max_objects and sorted(v.categories) == list(range(1, K + 1))
        assert all(0 <= c < len(CATEGORIES) for c in v.categories.values())
        assert len(v.frames) == len(v.id_maps) == TINY.length
        seen = set()
        for t, (frame, id_map) in enumerate(zip(v.frames, v.id_maps)):
            assert frame.shape == (96, 128, 3) and frame.dtype == np.uint8
            assert id_map.shape == (96, 128) and id_map.dtype == np.uint8  # one id per pixel: no overlap
            ids = set(np.unique(id_map).tolist()) - {0}
            assert ids <= set(v.categories)
            seen |= ids
            # each id's pixels are exactly that object's own visible area (renderer bookkeeping per object)
            counts = np.bincount(id_map.ravel(), minlength=K + 1)[1:]
            assert (counts == v.stats["visible_area"][:, t]).all()
            assert (v.stats["visible_area"][:, t] <= v.stats["amodal_area"][:, t]).all()
        assert seen == set(v.categories), "every primary is visible in some frame"
        need = TINY.visible_frames_needed
        assert ((v.stats["visible_area"] >= TINY.min_visible_area * 96 * 128).sum(1) >= need).all()


def test_ids_stable_across_frames():
    """Object k keeps id k: where k is unoccluded and away from the border in frames t and t+1, its
    centroid moves no more than the fastest possible in-view path allows (a swapped id would jump)."""
    cfg = SyntheticConfig(
        height=96, width=128, length=12, enter_leave_prob=0.0, pan_margin=0.0, scale_change=(1.0, 1.0), max_objects=4
    )
    max_step = np.hypot(96, 128) / (cfg.length - 1) + 0.05 * 96 * 2 * np.pi * 1.2 / (cfg.length - 1) + 2.0
    checked = 0
    for seed in range(6):
        v = generate_video(100 + seed, cfg)
        am, vis = v.stats["amodal_area"], v.stats["visible_area"]
        for k in v.categories:
            cents = []
            for t, m in enumerate(v.id_maps):
                ys, xs = np.nonzero(m == k)
                clean = vis[k - 1, t] > 0 and vis[k - 1, t] == am[k - 1, t]
                inside = clean and xs.min() > 0 and ys.min() > 0 and xs.max() < 127 and ys.max() < 95
                cents.append(np.array([xs.mean(), ys.mean()]) if inside else None)
            for a, b in zip(cents, cents[1:]):
                if a is not None and b is not None:
                    checked += 1
                    assert np.linalg.norm(b - a) <= max_step
    assert checked > 50


def test_scene_events_in_a_small_batch(batch):
    occluded = entering_or_leaving = panned = scaled = 0
    for v in batch:
        am, vis = v.stats["amodal_area"], v.stats["visible_area"]
        occluded += bool(((am > vis) & (am > 0)).any())
        # absent (wholly out of view) in some frames, visible in others
        entering_or_leaving += bool(((am == 0).any(1) & (vis > 0).any(1)).any())
        cam = v.stats["camera"]
        panned += bool((cam[0] != cam[-1]).any())
        scaled += bool((np.abs(np.log(v.stats["scale"][:, -1])) > np.log(1.1)).any())
        # distractors: drawn in every frame, never annotated, static in the scene (move with the camera)
        d0 = v.distractor_masks[0]
        assert d0.any()
        for t, (d, id_map) in enumerate(zip(v.distractor_masks, v.id_maps)):
            assert (d & (id_map == 0)).any()
            assert (id_map > 0).sum() == vis[:, t].sum()
            dx, dy = (cam[t] - cam[0]).tolist()
            H, W = d.shape
            a = d0[max(0, dy) : H + min(0, dy), max(0, dx) : W + min(0, dx)]
            b = d[max(0, -dy) : H + min(0, -dy), max(0, -dx) : W + min(0, -dx)]
            assert (a == b).all()
    assert occluded and entering_or_leaving and panned and scaled


def test_primaries_differ_from_distractors_in_one_frame(batch):
    """The single-frame cue documented in docs/synthetic.md: primaries are more saturated."""
    import cv2

    prim, dist = [], []
    for v in batch:
        for frame, id_map, d in zip(v.frames, v.id_maps, v.distractor_masks):
            sat = cv2.cvtColor(frame, cv2.COLOR_BGR2HSV)[..., 1].astype(np.float32)
            if (id_map > 0).sum() > 20:
                prim.append(sat[id_map > 0].mean())
            if (d & (id_map == 0)).sum() > 20:
                dist.append(sat[d & (id_map == 0)].mean())
    assert np.median(prim) > 1.5 * np.median(dist)


def test_written_layout_and_imagesets(tiny_root):
    palette = davis_palette()
    for split, n in zip(SPLITS, (3, 2, 2)):
        names = (tiny_root / "ImageSets" / "2017" / f"{split}.txt").read_text().split()
        assert names == [f"synth_{split}_{i:04d}" for i in range(n)]
        for sub in ("JPEGImages", "Annotations"):
            folders = sorted(
                p.name for p in (tiny_root / sub / "480p").iterdir() if p.name.startswith(f"synth_{split}_")
            )
            assert folders == names
        for name in names:
            jpgs = sorted((tiny_root / "JPEGImages" / "480p" / name).iterdir())
            pngs = sorted((tiny_root / "Annotations" / "480p" / name).iterdir())
            assert [p.stem for p in jpgs] == [p.stem for p in pngs] == [f"{t:05d}" for t in range(TINY.length)]
            with Image.open(pngs[0]) as im:
                assert im.mode == "P" and im.size == (128, 96) and im.getpalette()[:30] == palette[:30]
            with Image.open(jpgs[0]) as im:
                assert im.format == "JPEG" and im.size == (128, 96)
    assert not list(tiny_root.rglob(".tmp*")), "no temp files left"


def test_ytvis_json_matches_png_masks(tiny_root):
    for split in SPLITS:
        data = json.loads((tiny_root / "ytvis" / f"{split}.json").read_text())
        assert [c["id"] for c in data["categories"]] == list(range(1, len(CATEGORIES) + 1))
        assert [c["name"] for c in data["categories"]] == CATEGORIES
        by_video = {}
        for a in data["annotations"]:
            by_video.setdefault(a["video_id"], []).append(a)
        assert len({a["id"] for a in data["annotations"]}) == len(data["annotations"])
        for video in data["videos"]:
            T = video["length"]
            assert len(video["file_names"]) == T and (video["height"], video["width"]) == (96, 128)
            png_ids = [
                np.asarray(Image.open(tiny_root / "Annotations" / "480p" / (f[:-4] + ".png")))
                for f in video["file_names"]
            ]
            assert all((tiny_root / "JPEGImages" / "480p" / f).is_file() for f in video["file_names"])
            anns = by_video[video["id"]]
            assert sorted(a["instance_id"] for a in anns) == sorted(set(np.unique(png_ids).tolist()) - {0})
            for a in anns:
                assert a["iscrowd"] == 0 and 1 <= a["category_id"] <= len(CATEGORIES)
                assert len(a["segmentations"]) == len(a["areas"]) == len(a["bboxes"]) == T
                for t, (seg, area, box) in enumerate(zip(a["segmentations"], a["areas"], a["bboxes"])):
                    gt = png_ids[t] == a["instance_id"]
                    if seg is None:
                        assert not gt.any() and area is None and box is None
                        continue
                    assert isinstance(seg["counts"], str) and seg["size"] == [96, 128]
                    m = mask_util.decode({"size": seg["size"], "counts": seg["counts"].encode()}).astype(bool)
                    assert (m == gt).all() and area == int(gt.sum())
                    ys, xs = np.nonzero(gt)
                    assert box == [xs.min(), ys.min(), xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()]


def test_rerun_skips_finished_and_refuses_another_config(tmp_path):
    root = tmp_path / "ds"
    write_split(str(root), "train", 2, TINY, progress=False)
    frame = root / "JPEGImages/480p/synth_train_0001/00002.jpg"
    before = _files(root)
    mtime = frame.stat().st_mtime_ns
    kept = root / "JPEGImages/480p/synth_train_0000/00002.jpg"
    kept_mtime = kept.stat().st_mtime_ns
    # an interrupted attempt: record gone, frames half written, a temp folder left behind
    (root / "records/synth_train_0001.json").unlink()
    (root / "Annotations/480p/synth_train_0001/00003.png").unlink()
    (root / "JPEGImages/480p/.tmp-synth_train_0001").mkdir()
    time.sleep(0.01)
    names = write_split(str(root), "train", 3, TINY, progress=False)  # also grows the split
    assert names == [f"synth_train_{i:04d}" for i in range(3)]
    after = _files(root)
    assert all(
        after[k] == v for k, v in before.items() if "ytvis" not in k and "manifest" not in k and "ImageSets" not in k
    )
    assert kept.stat().st_mtime_ns == kept_mtime  # finished video skipped
    assert frame.stat().st_mtime_ns > mtime  # regenerated
    assert not list(root.rglob(".tmp*"))
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["splits"]["train"]["num_videos"] == 3 and manifest["config"]["height"] == 96

    with pytest.raises(SyntheticRootError, match="manifest.json.*different config.*height"):
        write_split(str(root), "train", 3, SyntheticConfig(height=64, width=128, length=6), progress=False)
    with pytest.raises(SyntheticRootError, match="seed base"):
        make_synthetic_dataset(str(root), TINY, 3, 0, 0, seed=5, progress=False)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "data.txt").write_text("x")
    with pytest.raises(SyntheticRootError, match="no manifest.json"):
        write_split(str(foreign), "train", 1, TINY, progress=False)


def test_full_resolution_renders():
    v = generate_video(3, SyntheticConfig(height=480, width=854, length=2))
    assert v.frames[0].shape == (480, 854, 3) and v.id_maps[1].shape == (480, 854) and v.id_maps[0].any()


def test_cli_and_contact_sheet(tmp_path):
    import make_synthetic

    sheet = tmp_path / "sheet.jpg"
    cli = ["--output", str(tmp_path / "ds"), "--width", "96", "--length", "4", "--seed", "3"]
    counts = ["--num-train", "2", "--num-val", "0", "--num-test", "1"]
    sheet_args = ["--contact-sheet", str(sheet), "--sheet-videos", "2", "--sheet-frames", "2"]
    out = make_synthetic.main([*cli, "--height", "64", *counts, *sheet_args])
    assert sorted(out) == ["test", "train"] and len(out["train"]) == 2
    assert not (tmp_path / "ds/ImageSets/2017/val.txt").exists()
    with Image.open(sheet) as im:
        assert im.size == (3 * 96, 2 * 64)  # raw frame + 2 overlays per row, 2 rows
    with pytest.raises(SystemExit, match="different config"):
        make_synthetic.main([*cli, "--height", "72", *counts])


@pytest.mark.slow
def test_speed_40_videos_default_size(tmp_path):
    t0 = time.perf_counter()
    write_split(str(tmp_path / "ds"), "train", 40, SyntheticConfig(), progress=False)
    assert time.perf_counter() - t0 < 60
