"""Eq. 10: s(p, Y) = (cos(p, y_j) + cos(p, y_0)) * 1(IoU(p, y_j) > 0.5) and the replacement rule."""

import math

import torch
import torch.nn.functional as F
from detectron2.config import LazyCall as L
from detectron2.config import instantiate

import uvmos  # noqa: F401
from uvmos.modeling.tnet.mask_ops import mask_iou, paint_order, paste_id_map, paste_ranks
from uvmos.modeling.tnet.verifier import NoVerifier, ReIDVerifier
from uvmos.registry import VERIFIER_REGISTRY, build


def _box(x0, x1, H=10, W=20):
    m = torch.zeros(H, W, dtype=torch.bool)
    m[2:8, x0:x1] = True
    return m


def _unit(*v):
    return F.normalize(torch.tensor(v, dtype=torch.float32), dim=0)


def test_scores_follow_eq10():
    result = _box(0, 10)[None]  # y_j: 60 px
    props = torch.stack([_box(0, 10), _box(0, 7), _box(0, 5), _box(12, 18)])  # IoU 1, 0.7, 0.5, 0
    e_res, e_first = _unit(1, 0, 0), _unit(0, 1, 0)
    e_props = torch.stack([_unit(1, 1, 0), _unit(1, 0, 0), _unit(1, 1, 0), _unit(1, 1, 0)])
    v = ReIDVerifier(thr_reid=0.6, iou_thresh=0.5)
    s = v.scores(props, e_props, result, e_res[None], e_first[None])[0]
    iou = mask_iou(result, props)[0]
    assert torch.allclose(iou, torch.tensor([1.0, 0.7, 0.5, 0.0]))
    assert math.isclose(float(s[0]), 2 / math.sqrt(2), rel_tol=1e-6)  # cos 0.707 + 0.707
    assert math.isclose(float(s[1]), 1.0, rel_tol=1e-6)  # cos 1 + 0
    assert float(s[2]) == 0.0  # IoU exactly 0.5 is not > 0.5
    assert float(s[3]) == 0.0


def test_threshold_decides_replacement():
    result = _box(0, 10)[None]
    props = _box(0, 9)[None]  # IoU 0.9
    e_first = _unit(0, 1)
    for cos_sum, expected in ((0.61, True), (0.59, False)):
        # choose p so that cos(p, y_j) = cos_sum and cos(p, y_0) = 0
        e_p = _unit(1, 0)
        e_res = _unit(cos_sum, math.sqrt(1 - cos_sum**2))
        ver = ReIDVerifier(thr_reid=0.6).verify(props, e_p[None], result, e_res[None], e_first[None])
        assert math.isclose(float(ver.best_score[0]), cos_sum, rel_tol=1e-5)
        assert bool(ver.verified[0]) is expected
        assert int(ver.best[0]) == 0


def test_one_proposal_verifies_one_target_greedily():
    results = torch.stack([_box(0, 10), _box(0, 9)])
    props = torch.stack([_box(0, 10), _box(11, 19)])
    e = _unit(1, 0)
    ver = ReIDVerifier().verify(props, torch.stack([e, e]), results, torch.stack([e, e]), torch.stack([e, e]))
    # both targets overlap proposal 0 (IoU 1 and 0.9); the first claims it, the second gets nothing
    assert ver.best.tolist() == [0, -1]
    assert ver.verified.tolist() == [True, False]
    assert float(ver.scores[1, 0]) > 0.6


def test_no_verifier_and_building():
    res = _box(0, 10)[None]
    ver = NoVerifier().verify(res, _unit(1, 0)[None], res, _unit(1, 0)[None], _unit(1, 0)[None])
    assert float(ver.scores.abs().sum()) == 0 and not ver.verified.any()
    assert isinstance(build(VERIFIER_REGISTRY, "ReIDVerifier", thr_reid=0.7), ReIDVerifier)
    assert isinstance(instantiate(L(NoVerifier)()), NoVerifier)


def test_paste_id_map_is_non_overlapping_and_resolves_by_score():
    a, b, c = _box(0, 10), _box(5, 15), _box(12, 20)
    id_map = paste_id_map(torch.stack([a, b, c]), [0.9, 0.5, 0.7], [3, 7, 9])
    assert id_map.dtype == torch.int32
    assert (id_map[a] == 3).all()  # a beats b on their overlap
    assert (id_map[b & ~a & ~c] == 7).all()
    assert (id_map[c] == 9).all()  # c (0.7) beats b (0.5)
    assert set(id_map.unique().tolist()) == {0, 3, 7, 9}


def test_paste_ranks_equals_painting_each_mask_in_score_order():
    """The one-pass paste gives the map of painting the masks one by one, lowest score first (ties:
    the earlier mask on top), on random overlapping masks with tied scores."""
    g = torch.Generator().manual_seed(0)
    masks = torch.rand(7, 24, 31, generator=g) > 0.6
    scores = [0.3, 0.9, 0.3, 0.1, 0.9, 0.5, 0.3]
    ids = [4, 11, 2, 8, 5, 13, 1]
    expected = torch.zeros(24, 31, dtype=torch.int32)
    for k in sorted(range(7), key=lambda k: (scores[k], -k)):
        expected[masks[k]] = ids[k]
    assert torch.equal(paste_id_map(masks, scores, ids), expected)
    rank = paint_order(scores)
    assert sorted(rank.tolist()) == list(range(1, 8)) and rank[1] > rank[4]  # tie: the first on top
    assert torch.equal(paste_ranks(masks[:0], rank[:0]), torch.zeros(24, 31, dtype=torch.int32))
