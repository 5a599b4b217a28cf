"""DAVIS-2017 J&F: definitions, protocol rules, writers, evaluator (uvmos/evaluation/davis*.py)."""

import json
import os

import cv2
import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from tests.conftest import load_tool
from uvmos.data.video_dict import DatasetFormatError, instances_from_id_map
from uvmos.evaluation.davis import DAVISEvaluator, evaluate_davis
from uvmos.evaluation.davis_metrics import (
    boundary_kernel,
    boundary_radius,
    db_statistics,
    decay_bin_edges,
    frame_scores,
)
from uvmos.evaluation.davis_sequence import evaluate_sequence

# ---------------------------------------------------------------------------------- fixtures


def moving_objects(T=8, H=72, W=96, K=3, seed=0, border=False):
    """(T, H, W) uint8 id maps of K moving ellipses (later ids drawn on top)."""
    rng = np.random.default_rng(seed)
    c = rng.uniform([10, 10], [H - 10, W - 10], size=(K, 2))
    v = rng.uniform(-3, 3, size=(K, 2))
    ax = rng.uniform(5, 14, size=(K, 2))
    out = np.zeros((T, H, W), np.uint8)
    for t in range(T):
        for k in range(K):
            cy, cx = c[k] + t * v[k]
            cv2.ellipse(out[t], (int(cx), int(cy)), (int(ax[k, 1]), int(ax[k, 0])), 15 * k, 0, 360, k + 1, -1)
        if border:  # an object touching the last row and column
            out[t, H - 6 :, W - 9 :] = K + 1 if t % 2 else 0
    return out


def random_labels(H, W, L, seed):
    """Blobby random label map with labels 0..L, touching every border."""
    rng = np.random.default_rng(seed)
    noise = ndimage.gaussian_filter(rng.normal(size=(H, W)), 3)
    q = np.quantile(noise, np.linspace(0, 1, L + 2)[1:-1])
    lab = np.digitize(noise, q).astype(np.uint8)
    lab[rng.random((H, W)) < 0.01] = rng.integers(0, L + 1)  # isolated pixels
    return lab


# ------------------------------------------------------------------ reference (per definition)
def ref_bmap(m):
    """Boundary map by definition: the pixel differs from its E, S or SE neighbour; last row: E
    only; last column: S only; bottom-right corner: never."""
    m = m.astype(bool)
    H, W = m.shape
    b = np.zeros_like(m)
    b[:-1, :-1] = (m[:-1, :-1] != m[:-1, 1:]) | (m[:-1, :-1] != m[1:, :-1]) | (m[:-1, :-1] != m[1:, 1:])
    b[-1, :-1] = m[-1, :-1] != m[-1, 1:]
    b[:-1, -1] = m[:-1, -1] != m[1:, -1]
    return b


def ref_scores(g, r, G, P, radius):
    yy, xx = np.mgrid[-int(radius) : int(radius) + 1, -int(radius) : int(radius) + 1]
    foot = yy**2 + xx**2 <= radius**2
    J = np.zeros((P, G))
    F = np.zeros((P, G))
    for p in range(P):
        for k in range(G):
            a, b = g == k + 1, r == p + 1
            u = (a | b).sum()
            J[p, k] = 1.0 if u == 0 else (a & b).sum() / u
            bg, br = ref_bmap(a), ref_bmap(b)
            ng, nf = bg.sum(), br.sum()
            if nf == 0 or ng == 0:
                prec, rec = (1.0 if nf == 0 else 0.0), (1.0 if ng == 0 else 0.0)
            else:
                prec = (br & ndimage.binary_dilation(bg, foot)).sum() / nf
                rec = (bg & ndimage.binary_dilation(br, foot)).sum() / ng
            F[p, k] = 0.0 if prec + rec == 0 else 2 * prec * rec / (prec + rec)
    return J, F


# ---------------------------------------------------------------------------------- metrics
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_frame_scores_match_definition(seed):
    H, W = 61, 87  # odd sizes; labels touch all borders and form 3- and 4-label quads
    g = random_labels(H, W, 3, seed)
    r = random_labels(H, W, 5, seed + 10)
    r[:, :20] = 0  # proposal partly empty
    radius = boundary_radius(H, W)
    J, F = frame_scores(g, r, 4, 6, radius, boundary_kernel(radius))  # id 4 and 6 absent: empty
    Jr, Fr = ref_scores(g, r, 4, 6, radius)
    np.testing.assert_allclose(J, Jr, rtol=0, atol=1e-15)
    np.testing.assert_allclose(F, Fr, rtol=0, atol=1e-15)
    assert J[5, 3] == 1.0 and F[5, 3] == 1.0  # empty vs empty
    assert F[5, 0] == 0.0  # empty proposal vs present object


def test_boundary_radius_as_toolkit():
    assert boundary_radius(480, 854) == 8.0
    assert boundary_radius(480, 910) == 9.0
    assert boundary_radius(480, 1152) == 10.0
    assert boundary_radius(100, 100, bound_th=3) == 3.0


def test_decay_bins_integer_past_255_frames():
    # the toolkit's uint8 cast wraps: for 300 frames the last bin is v[224:44], empty -> NaN decay
    assert list(decay_bin_edges(300, official_uint8=True)) == [0, 75, 150, 224, 43]
    assert list(decay_bin_edges(300)) == [0, 75, 150, 224, 299]
    v = np.r_[np.ones(150), np.zeros(150)]
    m, rec, d = db_statistics(v)
    assert m == 0.5 and rec == 0.5
    assert d == pytest.approx(1.0 - 0.0)
    for n in (10, 50, 255, 256):  # identical to the toolkit up to 256 frames
        assert list(decay_bin_edges(n)) == list(decay_bin_edges(n, official_uint8=True))


# ---------------------------------------------------------------------------------- protocol
def test_permuted_ids_score_perfectly_unsupervised():
    gt = moving_objects(K=3, seed=3)
    perm = np.array([0, 5, 1, 3, 2, 4, 6], np.uint8)  # 1->5, 2->1, 3->3; ids 2, 4 unused
    res = perm[gt]
    r = evaluate_sequence(gt, res, "unsupervised", name="seq")
    assert [o["proposal_id"] for o in r["objects"]] == [5, 1, 3]
    for o in r["objects"]:
        assert (o["J"], o["F"], o["J-Recall"], o["F-Recall"]) == (1.0, 1.0, 1.0, 1.0)
        assert o["J-Decay"] == 0.0 and o["F-Decay"] == 0.0
    # semi-supervised takes ids literally
    s = evaluate_sequence(gt, res, "semi-supervised", name="seq", extra_ids="ignore")
    assert s["objects"][0]["J"] < 0.5


def test_number_of_objects_from_first_frame():
    gt = moving_objects(K=3, seed=4)
    gt[0][gt[0] == 3] = 0  # object 3 absent from the first frame -> only 2 objects (toolkit rule)
    r = evaluate_sequence(gt, gt, "unsupervised", name="s")
    assert r["num_objects"] == 2 and len(r["objects"]) == 2


def test_void_pixels_are_ignored():
    gt = moving_objects(K=2, seed=5)
    void = np.zeros(gt.shape, bool)
    void[:, 20:40, 30:60] = True
    gt_v = gt.copy()
    gt_v[void] = 255
    res = gt.copy()
    res[void] = 1  # anything inside void
    r = evaluate_sequence(gt_v, res, "unsupervised", name="s", void="exclude")
    ref = evaluate_sequence(gt_v, np.where(void, 0, gt), "unsupervised", name="s")
    for o, o2 in zip(r["objects"], ref["objects"]):
        assert o["J"] == o2["J"] and o["F"] == o2["F"]
    # void as background (what the toolkit's code does) penalises pixels labelled in void
    b = evaluate_sequence(gt_v, res, "unsupervised", name="s", void="background")
    assert b["objects"][0]["J"] < r["objects"][0]["J"]


def test_semi_supervised_excludes_first_and_last_frames():
    gt = moving_objects(T=7, K=2, seed=6)
    res = gt.copy()
    res[0] = 0
    res[-1] = 2
    s = evaluate_sequence(gt, res, "semi-supervised", name="s")
    assert s["num_frames"] == 5
    assert all(o["J"] == 1.0 and o["F"] == 1.0 for o in s["objects"])
    u = evaluate_sequence(gt, res, "unsupervised", name="s")
    assert u["num_frames"] == 7 and u["objects"][0]["J"] < 1.0


def test_id_limits_and_missing_frames():
    gt = moving_objects(K=2, seed=7)
    res = gt.copy()
    res[3][:2, :2] = 21
    with pytest.raises(DatasetFormatError, match="seq.*maximum number \\(20\\)"):
        evaluate_sequence(gt, res, "unsupervised", name="seq")
    res[3][:2, :2] = 3
    with pytest.raises(DatasetFormatError, match="higher than the number of objects"):
        evaluate_sequence(gt, res, "semi-supervised", name="seq")
    ok = evaluate_sequence(gt, res, "semi-supervised", name="seq", extra_ids="ignore")
    assert ok["objects"][0]["J"] > 0.9
    # a missing frame is an empty mask, a missing id an empty proposal
    frames = list(gt)
    frames[2] = None
    m = evaluate_sequence(gt, frames, "unsupervised", name="seq")
    assert m["objects"][0]["J_frames"][2] == 0.0 and m["objects"][0]["J_frames"][1] == 1.0
    only1 = np.where(gt == 2, 0, gt)
    m = evaluate_sequence(gt, only1, "semi-supervised", name="seq")  # the toolkit exits here
    assert m["objects"][1]["J"] == 0.0


def _write_root(root, seqs, task="unsupervised", with_imagesets=True):
    ann = "Annotations_unsupervised" if task == "unsupervised" else "Annotations"
    for name, maps in seqs.items():
        d = root / ann / "480p" / name
        d.mkdir(parents=True)
        for t, m in enumerate(maps):
            im = Image.fromarray(m, mode="L").convert("P")
            im.save(d / f"{t:05d}.png")
    if with_imagesets:
        (root / "ImageSets" / "2017").mkdir(parents=True)
        (root / "ImageSets" / "2017" / "val.txt").write_text("\n".join(seqs) + "\n")


def _write_results(root, seqs):
    for name, maps in seqs.items():
        (root / name).mkdir(parents=True)
        for t, m in enumerate(maps):
            Image.fromarray(m.astype(np.uint8)).save(root / name / f"{t:05d}.png")


def test_cli_root_without_jpegimages(tmp_path):
    cli = load_tool("eval_davis")

    gt = {"a": moving_objects(K=2, seed=8), "b": moving_objects(T=5, K=1, seed=9)}
    res = {"a": np.array([0, 2, 1], np.uint8)[gt["a"]], "b": gt["b"] * 0}
    _write_root(tmp_path / "davis", gt)
    _write_results(tmp_path / "res", res)
    out = tmp_path / "out"
    rc = cli.main(
        [
            "--davis_path",
            str(tmp_path / "davis"),
            "--task",
            "unsupervised",
            "--results_path",
            str(tmp_path / "res"),
            "--output_dir",
            str(out),
            "--json",
            str(out / "r.json"),
            "--num-workers",
            "2",
        ]
    )
    assert rc == 0
    g = (out / "global_results-val.csv").read_text().splitlines()
    assert g[0] == "J&F-Mean,J-Mean,J-Recall,J-Decay,F-Mean,F-Recall,F-Decay"
    assert g[1].split(",")[1] == "%.3f" % ((1 + 1 + 0) / 3)
    s = (out / "per-sequence_results-val.csv").read_text().splitlines()
    assert s == ["Sequence,J-Mean,F-Mean", "a_1,1.000,1.000", "a_2,1.000,1.000", "b_1,0.000,0.000"]
    j = json.loads((out / "r.json").read_text())
    assert j["per_object"]["a_2"]["J"] == 1.0 and j["per_object"]["b_1"]["F"] == 0.0
    assert not [f for f in os.listdir(out) if ".tmp" in f]
    # a root without ImageSets: the sequence folders are listed (and said so)
    _write_root(tmp_path / "noset", gt, with_imagesets=False)
    r = evaluate_davis(tmp_path / "noset", tmp_path / "res", "unsupervised", num_workers=1)
    assert list(r.per_object) == ["a_1", "a_2", "b_1"] and "not found" in r.notes[0]
    os.rename(tmp_path / "res" / "b", tmp_path / "res" / "c")
    with pytest.raises(DatasetFormatError, match="res/b: result folder"):
        evaluate_davis(tmp_path / "davis", tmp_path / "res", "unsupervised", num_workers=1)


def test_evaluator_on_video_dicts_and_gt_root(tmp_path):
    from detectron2.data import DatasetCatalog, MetadataCatalog

    maps = {"v1": moving_objects(K=2, seed=10), "v2": moving_objects(K=3, seed=11)}

    def videos():
        out = []
        for vid, m in maps.items():
            T, H, W = m.shape
            out.append(
                {
                    "video_id": vid,
                    "height": H,
                    "width": W,
                    "length": T,
                    "annotations": [instances_from_id_map(f) for f in m],
                }
            )
        return out

    name = "_test_eval_davis_videos"
    if name in DatasetCatalog.list():
        DatasetCatalog.remove(name)
    DatasetCatalog.register(name, videos)
    try:
        ev = DAVISEvaluator(name, task="unsupervised", distributed=False, output_dir=tmp_path)
        ev.reset()
        ev.process([{"video_id": "v1"}], [{"video_id": "v1", "id_maps": [np.array([0, 2, 1])[f] for f in maps["v1"]]}])
        ev.process([{"video_id": "v2"}], [{"annotations": [instances_from_id_map(f) for f in maps["v2"]]}])
        out = ev.evaluate()
        assert out["davis"]["J&F-Mean"] == 1.0 and out["davis"]["F-Decay"] == 0.0
        assert (tmp_path / "global_results-val.csv").exists()
        # a dataset registered as a train image set names its CSVs after it
        MetadataCatalog.get(name).set(image_set="train")
        ev = DAVISEvaluator(name, task="unsupervised", distributed=False, output_dir=tmp_path / "tr")
        ev.process([{"video_id": "v2"}], [{"annotations": [instances_from_id_map(f) for f in maps["v2"]]}])
        ev.evaluate()
        assert (tmp_path / "tr" / "per-sequence_results-train.csv").exists()
    finally:
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    _write_root(tmp_path / "davis", {"v1": maps["v1"]}, task="semi-supervised")
    ev = DAVISEvaluator(gt_root=tmp_path / "davis", task="semi-supervised", distributed=False)
    ev.process([{"video_id": "v1"}], [{"id_maps": list(maps["v1"])}])
    assert ev.evaluate()["davis"]["J-Mean"] == 1.0


# ------------------------------------------------------------------------------- real masks
# Figures of the toolkit's code (re-typed, run on ../shared/data/davis2017-val-results with
# osvos as ground truth and rvos as results; docs/evaluation.md): (J, F, J-Decay, F-Decay).
OFFICIAL = {
    "unsupervised": {
        "car-shadow_1": (0.8941771093670503, 0.8895478795228542, 0.08495258397906214, 0.0871393279410686),
        # the assignment crosses (object 1 <- proposal 2): the toolkit's CSV row "bmx-trees_1" is object 2
        "bmx-trees_1": (0.00749407955111119, 0.11571434391186741, -0.0038586345211747367, 0.014586054194070441),
        "bmx-trees_2": (0.4274883649025978, 0.5351021262871745, 0.09711848302488696, 0.07203726281276812),
    },
    "semi-supervised": {  # rvos ids above the number of objects ignored (the toolkit's driver exits)
        "car-shadow_1": (0.8990530676662207, 0.89531672293601, 0.07590791597299096, 0.0823600125769004)
    },
}


@pytest.mark.parametrize("task", ["unsupervised", "semi-supervised"])
def test_real_masks_match_toolkit_figures(shared_data, task):
    root = shared_data / "davis2017-val-results"
    seqs = sorted({k.rsplit("_", 1)[0] for k in OFFICIAL[task]})
    r = evaluate_davis(root / "osvos", root / "rvos", task, sequences=seqs, extra_ids="ignore", num_workers=1)
    for name, (j, f, jd, fd) in OFFICIAL[task].items():
        o = r.per_object[name]
        assert (o["J"], o["F"], o["J-Decay"], o["F-Decay"]) == (j, f, jd, fd)
    if task == "unsupervised":
        assert r.per_object["bmx-trees_1"]["proposal_id"] == 2


def test_sixteen_bit_ground_truth_with_void():
    gt = moving_objects(K=2, seed=12).astype(np.int32)
    gt[:, :5, :] = 255
    gt[3, 60:, :10] = 300  # an id above the first frame's objects: not an object
    res = np.where(gt == 255, 1, np.where(gt == 300, 0, gt))
    r = evaluate_sequence(gt, res, "unsupervised", name="s")
    assert r["num_objects"] == 2 and all(o["J"] == 1.0 and o["F"] == 1.0 for o in r["objects"])


def test_video_dicts_with_results_on_disk(tmp_path):
    maps = moving_objects(T=5, K=2, seed=13)
    T, H, W = maps.shape
    vd = {
        "video_id": "vid",
        "height": H,
        "width": W,
        "length": T,
        "file_names": [f"/frames/vid/{t:05d}.jpg" for t in range(T)],
        "annotations": [instances_from_id_map(f) for f in maps],
        "annotated": [True, True, False, True, True],
    }
    _write_results(tmp_path, {"vid": maps[[0, 1, 2, 3]]})  # frame 00004 missing
    r = evaluate_davis([vd], tmp_path, "unsupervised", num_workers=1)
    j = r.sequences[0]["objects"][0]["J_frames"]
    assert len(j) == 4 and list(j[:3]) == [1.0, 1.0, 1.0] and j[3] == 0.0
    assert "1 missing result frame" in r.notes[0]


def test_more_than_20_ids_keep_the_largest():
    """A long video's tracker may have used more than 20 ids: the 20 largest are scored (a note
    says so), renumbered in order; the object covered by a kept id is still matched."""
    from uvmos.evaluation.davis import evaluate_davis
    from uvmos.evaluation.davis_io import keep_largest_ids

    gt = moving_objects(K=2, seed=7)
    res = [g.astype(np.int32) * 0 for g in gt]
    for t, g in enumerate(gt):
        res[t][g == 1] = 25  # object 1 tracked as id 25
        res[t][g == 2] = 2
        for k in range(3, 24):  # 21 tiny spurious ids
            res[t][k % 5, k] = k if t == 0 else 0
    maps, dropped = keep_largest_ids(res, 20)
    assert len(dropped) == 3 and max(int(m.max()) for m in maps) == 20
    r = evaluate_davis({"seq": np.stack(gt)}, {"seq": res}, num_workers=1)
    assert r.global_figures["J-Mean"] > 0.99 and any("20 largest" in n for n in r.notes)
