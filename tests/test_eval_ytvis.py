"""YouTube-VIS AP/AR (uvmos/evaluation/ytvis.py) on the real sample annotations."""

import json
import math

import numpy as np
import pycocotools.mask as mask_util
import pytest

from tests.conftest import load_tool
from uvmos.data.video_dict import DatasetFormatError, mask_to_rle, rle_to_mask
from uvmos.evaluation.ytvis import YTVISEvaluator, _iou_matrix, evaluate_ytvis, load_ytvis_gt, video_iou
from uvmos.evaluation.ytvis_results import (
    id_map_tracks,
    instance_tracks,
    load_ytvis_results,
    write_ytvis_results,
    ytvis_tracks,
)


@pytest.fixture(scope="module")
def sample(shared_data):
    return load_ytvis_gt(shared_data / "ytvis-sample" / "instances.json")


def as_results(gt, score=1.0, transform=None):
    out = []
    for k, tr in enumerate(gt["tracks"]):
        segs = []
        for s in tr["segmentations"]:
            if s is None:
                segs.append(None)
                continue
            m = rle_to_mask(s)
            segs.append(mask_to_rle(transform(m) if transform else m))
        out.append(
            {
                "video_id": tr["video_id"],
                "category_id": tr["category_id"],
                "score": score - 0.1 * k,
                "segmentations": segs,
            }
        )
    return out


def shift(dx):
    return lambda m: np.roll(m, dx, axis=1)


def test_ground_truth_against_itself_is_perfect(sample):
    assert len(sample["tracks"]) == 2 and sample["videos"][0]["length"] == 20
    f = evaluate_ytvis(sample, as_results(sample))
    assert f["AP"] == 1.0 and f["AP50"] == 1.0 and f["AP75"] == 1.0 and f["AR10"] == 1.0
    assert f["AR1"] == 0.5  # two objects, one detection allowed
    assert f["APs"] == 1.0 and math.isnan(f["APl"])  # both tracks average < 128^2 pixels


def test_ap_drops_as_masks_are_perturbed(sample):
    aps = [evaluate_ytvis(sample, as_results(sample, transform=shift(dx)))["AP"] for dx in (0, 3, 8, 20)]
    assert aps[0] == 1.0
    assert aps[0] > aps[1] > aps[2] > aps[3]
    # a wrong category scores 0 unless matching is class-agnostic
    wrong = as_results(sample)
    for r in wrong:
        r["category_id"] = 1
    assert evaluate_ytvis(sample, wrong)["AP"] == 0.0
    assert evaluate_ytvis(sample, wrong, class_agnostic=True)["AP"] == 1.0


def test_video_iou_definition(sample):
    g = sample["tracks"][0]["segmentations"]
    d = [mask_to_rle(shift(4)(rle_to_mask(s))) if s is not None else None for s in g]
    d[0] = d[5]  # a detection on a frame without ground truth
    d[6] = None  # a missed frame
    inter = union = 0
    for a, b in zip(d, g):
        ma = rle_to_mask(a) if a is not None else None
        mb = rle_to_mask(b) if b is not None else None
        if ma is not None and mb is not None:
            inter += (ma & mb).sum()
            union += (ma | mb).sum()
        elif ma is not None or mb is not None:
            union += (ma if ma is not None else mb).sum()
    coco = lambda s: (
        None
        if s is None
        else {"size": s["size"], "counts": s["counts"].encode() if isinstance(s["counts"], str) else s["counts"]}
    )  # noqa: E731
    d, g = [coco(s) for s in d], [coco(s) for s in g]
    assert video_iou(d, g) == inter / union
    assert _iou_matrix([d, g], [g, d])[0, 0] == inter / union
    assert _iou_matrix([d], [[None] * len(g)])[0, 0] == 0.0


def test_results_json_roundtrip_and_cli(tmp_path, sample, shared_data):
    res = as_results(sample, transform=shift(3))
    write_ytvis_results(res, tmp_path / "results.json")
    back = load_ytvis_results(tmp_path / "results.json")
    a, b = evaluate_ytvis(sample, back), evaluate_ytvis(sample, res)
    assert list(a.values()) == pytest.approx(list(b.values()), nan_ok=True) and 0 < a["AP"] < 1
    cli = load_tool("eval_ytvis")
    gt_json = shared_data / "ytvis-sample" / "instances.json"
    rc = cli.main(
        ["--gt", str(gt_json), "--results", str(tmp_path / "results.json"), "--json", str(tmp_path / "f.json")]
    )
    assert rc == 0
    f = json.loads((tmp_path / "f.json").read_text())
    assert f["AP"] == pytest.approx(evaluate_ytvis(sample, res)["AP"]) and f["APl"] is None
    bad = [dict(res[0], segmentations=res[0]["segmentations"][:3])]
    with pytest.raises(DatasetFormatError, match="3 segmentations for 20 frames"):
        evaluate_ytvis(sample, bad)
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(DatasetFormatError, match="broken.json"):
        load_ytvis_results(tmp_path / "broken.json")


def test_native_layout_and_evaluator(tmp_path, sample):
    # write the sample in the YouTube-VIS layout (tracks with per-frame segmentations)
    v = sample["videos"][0]
    native = {
        "videos": [
            {
                "id": 7,
                "file_names": [f"{v['name']}/{t:05d}.jpg" for t in range(v["length"])],
                "height": v["height"],
                "width": v["width"],
                "length": v["length"],
            }
        ],
        "categories": [{"id": 6, "name": "sedan"}],
        "annotations": [
            {
                "id": k + 1,
                "video_id": 7,
                "category_id": 6,
                "iscrowd": 0,
                "height": v["height"],
                "width": v["width"],
                "segmentations": [
                    None if s is None else {"size": s["size"], "counts": s["counts"].decode()}
                    for s in tr["segmentations"]
                ],
                "areas": [None if s is None else float(mask_util.area(s)) for s in tr["segmentations"]],
            }
            for k, tr in enumerate(sample["tracks"])
        ],
    }
    (tmp_path / "gt.json").write_text(json.dumps(native))
    gt = load_ytvis_gt(tmp_path / "gt.json")
    assert gt["videos"][0]["name"] == v["name"]
    assert [t["area"] for t in gt["tracks"]] == pytest.approx([t["area"] for t in sample["tracks"]])
    # tracker-style outputs: per-frame id maps with track scores/classes
    id_maps = np.zeros((v["length"], v["height"], v["width"]), np.uint8)
    for k, tr in enumerate(gt["tracks"]):
        for t, s in enumerate(tr["segmentations"]):
            if s is not None:
                id_maps[t][mask_util.decode(s).astype(bool)] = 5 + k
    ev = YTVISEvaluator(gt_json=tmp_path / "gt.json", distributed=False, output_dir=tmp_path / "out")
    ev.process(
        [{"video_id": v["name"]}],
        [{"id_maps": id_maps, "track_scores": {5: 0.9, 6: 0.8}, "track_classes": {5: 6, 6: 6}}],
    )
    out = ev.evaluate()["ytvis"]
    # overlapping ground truth cannot be reproduced exactly by an id map; AP50 is still perfect
    assert out["AP50"] == 1.0 and 0.5 < out["AP"] <= 1.0
    assert len(json.loads((tmp_path / "out" / "results.json").read_text())) == 2
    assert ytvis_tracks(7, [id_map_tracks(m, {1: 0.5}) for m in id_maps[:, :0]]) == []


def test_ytvis_tracks_score_and_category_rules():
    """One converter: score = mean of the per-frame scores where the track appears, category =
    its class in the last frame it appears in (id maps and video-dict predictions alike)."""
    m = np.zeros((4, 5), dtype=bool)
    m[1:3, 1:3] = True
    r = mask_to_rle(m)
    pred = {
        "annotations": [
            [{"instance_id": 3, "segmentation": r, "category_id": 0, "score": 0.2}],
            [],
            [
                {"instance_id": 3, "segmentation": r, "category_id": 2, "score": 0.4},
                {"instance_id": 5, "segmentation": r, "category_id": 1, "score": 0.9},
            ],
        ]
    }
    out = ytvis_tracks(11, [instance_tracks(f) for f in pred["annotations"]], category_map={0: 10, 1: 20, 2: 30})
    assert [(t["category_id"], t["score"]) for t in out] == [(30, pytest.approx(0.3)), (20, 0.9)]  # last frame's class
    assert out[0]["segmentations"][1] is None and out[1]["segmentations"][:2] == [None, None]
    assert all(t["video_id"] == 11 and len(t["segmentations"]) == 3 for t in out)
    id_maps = np.zeros((3, 4, 5), np.uint8)
    id_maps[0][m], id_maps[2][m] = 3, 3
    frames = [id_map_tracks(id_maps[0], {3: 0.2}, {3: 0}), None, id_map_tracks(id_maps[2], {3: 0.4}, {3: 2})]
    (tr,) = ytvis_tracks(11, frames, category_offset=1)
    assert (tr["category_id"], tr["score"], tr["track_id"]) == (3, pytest.approx(0.3), 3)
    assert tr["segmentations"][1] is None and tr["segmentations"][0] == r
    with pytest.raises(KeyError, match="class 2"):
        ytvis_tracks(11, frames, category_map={0: 10})
