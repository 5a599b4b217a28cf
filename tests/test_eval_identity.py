"""Identity errors next to J&F: ID switches, IDF1 and MOTA (uvmos/evaluation/id_metrics.py, trackeval)."""

import numpy as np
import pytest

from uvmos.evaluation.davis import evaluate_davis
from uvmos.evaluation.davis_sequence import evaluate_sequence
from uvmos.evaluation.id_metrics import combine_identity

pytest.importorskip("trackeval")


def two_objects(T=8, H=48, W=96):
    """Objects 1 and 2: separate rectangles moving right (never overlapping)."""
    gt = np.zeros((T, H, W), np.uint8)
    for t in range(T):
        gt[t, 4:20, 4 + 3 * t : 20 + 3 * t] = 1
        gt[t, 28:44, 4 + 3 * t : 20 + 3 * t] = 2
    return gt


def ids(gt, res):
    return evaluate_sequence(gt, res, "unsupervised", name="s")["identity"]


def test_perfect_and_permuted_tracks_have_no_identity_error():
    gt = two_objects()
    for res in (gt, np.array([0, 7, 3], np.uint8)[gt]):
        c = ids(gt, res)
        assert c["IDSW"] == 0 and c["IDFP"] == 0 and c["IDFN"] == 0 and c["IDTP"] == 16
        assert combine_identity([c]) == {"IDF1": 1.0, "IDSW": 0, "MOTA": 1.0}


def test_one_swap():
    """From frame 4 on the tracker swaps the two ids: 2 switches (one per object); the best
    global assignment keeps 4 of 8 frames per object: IDTP 8, IDFP 8, IDFN 8 -> IDF1 0.5;
    MOTA = (16 - 0 - 2) / 16."""
    gt = two_objects()
    res = gt.copy()
    res[4:] = np.array([0, 2, 1], np.uint8)[gt[4:]]
    c = ids(gt, res)
    assert (c["IDSW"], c["IDTP"], c["IDFP"], c["IDFN"]) == (2, 8, 8, 8)
    assert (c["CLR_TP"], c["CLR_FP"], c["CLR_FN"]) == (16, 0, 0)
    g = combine_identity([c])
    assert g["IDF1"] == 0.5 and g["IDSW"] == 2 and g["MOTA"] == pytest.approx(14 / 16)
    # J&F does not see the swap as such: each object keeps half its frames
    r = evaluate_davis({"s": gt}, {"s": res}, num_workers=1)
    assert r.global_figures["IDSW"] == 2 and r.global_figures["IDF1"] == 0.5
    assert r.global_figures["J-Mean"] == pytest.approx(0.5)


def test_new_id_after_a_gap_is_one_switch_and_extra_ids_are_false_positives():
    gt = two_objects()
    res = gt.copy()
    res[4:][gt[4:] == 1] = 3  # object 1 gets a new id half-way (a re-identification failure)
    c = ids(gt, res)
    assert c["IDSW"] == 1 and (c["IDTP"], c["IDFP"], c["IDFN"]) == (12, 4, 4)
    assert combine_identity([c])["IDF1"] == pytest.approx(12 / 16)
    # a distractor track (result id 4 on background) costs IDF1/MOTA, not J&F
    res2 = gt.copy()
    res2[:, 0:3, 80:90] = 4
    c2 = ids(gt, res2)
    assert c2["IDSW"] == 0 and c2["IDFP"] == 8 and c2["CLR_FP"] == 8
    r = evaluate_davis({"s": gt}, {"s": res2}, num_workers=1)
    assert r.global_figures["J&F-Mean"] == 1.0 and r.global_figures["IDF1"] == pytest.approx(16 / 20)
    assert r.global_figures["MOTA"] == pytest.approx(8 / 16)


def test_global_figures_sum_counts_over_sequences_and_only_for_unsupervised():
    gt = two_objects()
    swap = gt.copy()
    swap[4:] = np.array([0, 2, 1], np.uint8)[gt[4:]]
    r = evaluate_davis({"a": gt, "b": swap}, {"a": gt, "b": swap}, num_workers=1)
    r2 = evaluate_davis({"a": gt, "b": gt}, {"a": gt, "b": swap}, num_workers=1)
    assert r2.global_figures["IDSW"] == 2 and r2.global_figures["IDF1"] == pytest.approx(
        (16 + 8) / (16 + 8 + 0.5 * 8 + 0.5 * 8)
    )  # summed IDTP, IDFP, IDFN
    assert r.global_figures["IDSW"] == 0 and list(r.global_figures)[:7] == [
        "J&F-Mean",
        "J-Mean",
        "J-Recall",
        "J-Decay",
        "F-Mean",
        "F-Recall",
        "F-Decay",
    ]
    assert r2.to_json_dict()["identity"]["b"]["IDSW"] == 2
    assert "IDF1" in r2.format_tables() and r2.global_csv().splitlines()[0].count(",") == 6
    semi = evaluate_davis({"a": gt}, {"a": gt}, "semi-supervised", num_workers=1)
    assert "IDF1" not in semi.global_figures
