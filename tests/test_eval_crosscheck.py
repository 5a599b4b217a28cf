"""Independent cross-checks of our DAVIS and YouTube-VIS figures with the PyPI packages
``vos-benchmark`` (J, F per object) and ``trackeval`` (J&F with Hungarian matching, TrackMAP), on
the shared real masks. Definitions differ in places (docs/evaluation.md); the inputs are chosen
where they agree: every ground-truth object is present from the first scored frame, and frames
are truncated to keep the packages' per-pair loops fast."""

import json
import os

import numpy as np
import pytest

from uvmos.evaluation.davis import evaluate_davis
from uvmos.evaluation.ytvis import evaluate_ytvis, load_ytvis_gt

trackeval = pytest.importorskip("trackeval")
vos_benchmark = pytest.importorskip("vos_benchmark.benchmark")

NUM_FRAMES = 6


# TrackEval's evaluator with nothing printed, plotted or written
QUIET_EVALUATOR = {
    "USE_PARALLEL": False,
    "PRINT_RESULTS": False,
    "PRINT_CONFIG": False,
    "TIME_PROGRESS": False,
    "OUTPUT_SUMMARY": False,
    "OUTPUT_DETAILED": False,
    "PLOT_CURVES": False,
    "LOG_ON_ERROR": None,
}


def _truncated_copy(src_root, dst_root, seqs, n=NUM_FRAMES):
    """Symlink the first ``n`` PNGs of each sequence (real masks, fewer frames)."""
    for s in seqs:
        os.makedirs(dst_root / s)
        for f in sorted(os.listdir(src_root / s))[:n]:
            os.symlink(src_root / s / f, dst_root / s / f)


@pytest.fixture(scope="module")
def davis_pair(shared_data, tmp_path_factory):
    root = shared_data / "davis2017-val-results"
    tmp = tmp_path_factory.mktemp("davis_pair")
    seqs = ["judo", "car-shadow"]
    _truncated_copy(root / "osvos", tmp / "gt", seqs)
    _truncated_copy(root / "rvos", tmp / "trackers" / "rvos" / "data", seqs)
    return tmp, seqs


def test_vos_benchmark_semi_supervised(davis_pair):
    """vos-benchmark scores ids literally on frames[1:-1] like the semi-supervised task; result ids
    without a ground-truth object are not reported (our ``extra_ids="ignore"``)."""
    tmp, seqs = davis_pair
    ours = evaluate_davis(
        tmp / "gt", tmp / "trackers" / "rvos" / "data", "semi-supervised", extra_ids="ignore", num_workers=1
    )
    ev = vos_benchmark.VideoEvaluator(str(tmp / "gt"), str(tmp / "trackers" / "rvos" / "data"))
    n = 0
    for s in seqs:
        _, iou, boundary = ev(s)
        for k in iou:
            o = ours.per_object[f"{s}_{k}"]
            assert o["J"] * 100 == pytest.approx(iou[k], abs=1e-9)
            assert o["F"] * 100 == pytest.approx(boundary[k], abs=1e-9)
            n += 1
    assert n == len(ours.per_object) == 3


def test_trackeval_j_and_f_unsupervised(davis_pair):
    """trackeval's JAndF with J&F-based Hungarian matching (its default matches on J only)."""
    tmp, seqs = davis_pair
    ours = evaluate_davis(tmp / "gt", tmp / "trackers" / "rvos" / "data", "unsupervised", num_workers=1)
    ds = trackeval.datasets.DAVIS(
        {
            "GT_FOLDER": str(tmp / "gt"),
            "TRACKERS_FOLDER": str(tmp / "trackers"),
            "SEQ_INFO": {s: NUM_FRAMES for s in seqs},
            "TRACKERS_TO_EVAL": ["rvos"],
            "MAX_DETECTIONS": 20,
            "PRINT_CONFIG": False,
        }
    )
    metric = trackeval.metrics.JAndF()
    metric.optim_type = "J&F"
    evaluator = trackeval.Evaluator({**QUIET_EVALUATOR, "DISPLAY_LESS_PROGRESS": False})
    res, _ = evaluator.evaluate([ds], [metric])
    per_seq = res["DAVIS"]["rvos"]
    fields = {
        "J-Mean": "J",
        "J-Recall": "J-Recall",
        "J-Decay": "J-Decay",
        "F-Mean": "F",
        "F-Recall": "F-Recall",
        "F-Decay": "F-Decay",
    }
    for s in seqs:
        te = per_seq[s]["general"]["JAndF"]
        objs = [o for k, o in ours.per_object.items() if k.rsplit("_", 1)[0] == s]
        for tf, of in fields.items():
            assert te[tf] == pytest.approx(np.mean([o[of] for o in objs]), abs=1e-12), (s, tf)
    comb = per_seq["COMBINED_SEQ"]["general"]["JAndF"]
    assert comb["J&F"] == pytest.approx(ours.global_figures["J&F-Mean"], abs=1e-12)


def test_trackeval_trackmap_vs_ytvis_ap(shared_data, tmp_path):
    """trackeval's TrackMAP (TAO-style, per-class AP over tracks with video IoU) with YouTube-VIS
    area ranges equals our AP/AR here: one class, fewer than 100 tracks, no crowd."""
    from pycocotools import mask as mask_util

    from uvmos.data.video_dict import mask_to_rle, rle_to_mask

    gt = load_ytvis_gt(shared_data / "ytvis-sample" / "instances.json")
    v = gt["videos"][0]

    def enc(s):  # uncompressed RLE, as in the YouTube-VIS ground truth (trackeval reads only that)
        if s is None:
            return None
        flat = rle_to_mask(s).ravel(order="F").astype(np.int8)
        change = np.flatnonzero(np.diff(np.r_[0, flat, 1 - flat[-1]])) if flat.size else np.zeros(0, int)
        counts = np.diff(np.r_[0, change]).tolist()
        return {"size": list(s["size"]), "counts": counts}

    native = {
        "videos": [
            {
                "id": v["id"],
                "file_names": [f"{v['name']}/{t:05d}.jpg" for t in range(v["length"])],
                "height": v["height"],
                "width": v["width"],
                "length": v["length"],
            }
        ],
        "categories": [{"id": 6, "name": "sedan"}],
        "annotations": [
            {
                "id": tr["id"],
                "video_id": v["id"],
                "category_id": 6,
                "iscrowd": 0,
                "height": v["height"],
                "width": v["width"],
                "segmentations": [enc(s) for s in tr["segmentations"]],
                "areas": [None if s is None else int(mask_util.area(s)) for s in tr["segmentations"]],
            }
            for tr in gt["tracks"]
        ],
    }
    # trackeval numbers tracks from 0 and tests "gt already matched" with ``> 0``: a ground truth
    # matched by track 0 stays available (a duplicate then counts as a true positive). Track 0 is
    # therefore a decoy that matches nothing; the later duplicate (dx=0) is a false positive in both.
    decoy = np.zeros((v["height"], v["width"]), bool)
    decoy[:20, :20] = True
    results = [
        {
            "video_id": v["id"],
            "category_id": 6,
            "score": 0.5,
            "segmentations": [mask_to_rle(decoy) if t % 3 == 0 else None for t in range(v["length"])],
        }
    ]
    for k, (dx, score) in enumerate([(2, 0.9), (9, 0.8), (0, 0.3), (25, 0.95)]):
        tr = gt["tracks"][k % 2]
        segs = [None if s is None else mask_to_rle(np.roll(rle_to_mask(s), dx, axis=1)) for s in tr["segmentations"]]
        results.append({"video_id": v["id"], "category_id": 6, "score": score, "segmentations": segs})
    gt_dir = tmp_path / "gt" / "youtube_vis_val"
    trk_dir = tmp_path / "trk" / "youtube_vis_val" / "ours" / "data"
    gt_dir.mkdir(parents=True)
    trk_dir.mkdir(parents=True)
    (gt_dir / "gt.json").write_text(json.dumps(native))
    (trk_dir / "results.json").write_text(json.dumps(results))

    ours = evaluate_ytvis(gt_dir / "gt.json", trk_dir / "results.json")
    ds = trackeval.datasets.YouTubeVIS(
        {
            "GT_FOLDER": str(tmp_path / "gt") + "/",
            "TRACKERS_FOLDER": str(tmp_path / "trk") + "/",
            "SPLIT_TO_EVAL": "val",
            "PRINT_CONFIG": False,
        }
    )
    metric = trackeval.metrics.TrackMAP(
        {
            "USE_TIME_RANGES": False,
            "AREA_RANGES": [[0, 128**2], [128**2, 256**2], [256**2, 1e5**2]],
            "PRINT_CONFIG": False,
        }
    )
    evaluator = trackeval.Evaluator(QUIET_EVALUATOR)
    res, _ = evaluator.evaluate([ds], [metric])
    te = res["YouTubeVIS"]["ours"]["COMBINED_SEQ"]["cls_comb_cls_av"]["TrackMAP"]
    assert 0.2 < ours["AP"] < 0.9
    assert np.mean(te["AP_all"]) == pytest.approx(ours["AP"], abs=1e-12)
    assert np.mean(te["AP_area_s"]) == pytest.approx(ours["APs"], abs=1e-12)
    assert np.mean(te["AR_all"]) == pytest.approx(ours["AR100"], abs=1e-12)


def test_trackeval_void_handling_equals_exclusion(tmp_path):
    """trackeval zeroes void (255) pixels in the tracker masks and in the ground truth: the same
    as our default ``void="exclude"`` (the toolkit's code treats void as background instead)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    T, H, W = 6, 64, 96
    gt = np.zeros((T, H, W), np.uint8)
    res = np.zeros((T, H, W), np.uint8)
    for t in range(T):
        gt[t, 10 + t : 40 + t, 10:40] = 1
        gt[t, 20:50, 50 + t : 80 + t] = 2
        gt[t, 30:45, 30:60] = 255  # void over parts of both objects
        res[t, 12 + t : 44 + t, 8:42] = 2
        res[t, 18:52, 48 + t : 85] = 1
        res[t][rng.random((H, W)) < 0.02] = 3
    for name, maps in (("gt/seq", gt), ("trackers/m/data/seq", res)):
        (tmp_path / name).mkdir(parents=True)
        for t, m in enumerate(maps):
            Image.fromarray(m).save(tmp_path / name / f"{t:05d}.png")
    ours = evaluate_davis({"seq": gt}, {"seq": res}, "unsupervised", num_workers=1)
    background = evaluate_davis({"seq": gt}, {"seq": res}, "unsupervised", void="background", num_workers=1)
    ds = trackeval.datasets.DAVIS(
        {
            "GT_FOLDER": str(tmp_path / "gt"),
            "TRACKERS_FOLDER": str(tmp_path / "trackers"),
            "SEQ_INFO": {"seq": T},
            "PRINT_CONFIG": False,
        }
    )
    metric = trackeval.metrics.JAndF()
    metric.optim_type = "J&F"
    evaluator = trackeval.Evaluator(QUIET_EVALUATOR)
    te = evaluator.evaluate([ds], [metric])[0]["DAVIS"]["m"]["seq"]["general"]["JAndF"]
    assert te["J-Mean"] == pytest.approx(ours.global_figures["J-Mean"], abs=1e-12)
    assert te["F-Mean"] == pytest.approx(ours.global_figures["F-Mean"], abs=1e-12)
    assert abs(te["J-Mean"] - background.global_figures["J-Mean"]) > 1e-3
