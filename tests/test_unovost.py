"""projects/UnOVOST: flow warping of a mask by a known flow field, DIS flow on a known shift,
long-term tracklet merging and selection on a constructed case, and a whole video end to end."""

import numpy as np
import pytest
import torch
from detectron2.structures import Instances

from uvmos.projects.UnOVOST.unovost import UnOVOSTAssociator, UnOVOSTSegmenter, dis_flow, merge_tracklets, warp_mask
from uvmos.projects.UnOVOST.unovost.associator import Tracklet, select_tracks
from uvmos.registry import ASSOCIATOR_REGISTRY, META_ARCH_REGISTRY


def _square(H, W, y0, x0, s):
    m = np.zeros((H, W), dtype=bool)
    m[y0 : y0 + s, x0 : x0 + s] = True
    return m


# ---------------------------------------------------------------------------------------------
# flow warping
# ---------------------------------------------------------------------------------------------
def test_warp_mask_by_constant_flow():
    # backward flow (dx, dy) = (3, -2): out(x, y) = mask(x + 3, y - 2) -> the square moves by (-3, +2)
    mask = _square(40, 50, 10, 20, 8)
    flow = np.zeros((40, 50, 2), np.float32)
    flow[..., 0], flow[..., 1] = 3, -2
    assert np.array_equal(warp_mask(mask, flow), _square(40, 50, 12, 17, 8))


def test_warp_mask_by_varying_flow_and_border():
    # left half of the frame looks 4 px right, right half stays: a square straddling both is cut
    mask = _square(20, 40, 5, 16, 8)  # cols 16..23
    flow = np.zeros((20, 40, 2), np.float32)
    flow[:, :20, 0] = 4
    want = np.zeros_like(mask)
    want[5:13, 12:20] = True  # cols 12..19 read cols 16..23
    want[5:13, 20:24] = True  # cols 20..23 read themselves
    assert np.array_equal(warp_mask(mask, flow), want)
    # looking outside the frame gives background
    flow[:] = 0
    flow[..., 0] = 100
    assert not warp_mask(mask, flow).any()


def test_warp_mask_size_mismatch():
    with pytest.raises(ValueError, match="sizes differ"):
        warp_mask(np.zeros((4, 4), bool), np.zeros((5, 4, 2), np.float32))


def test_dis_flow_recovers_a_known_shift():
    rng = np.random.default_rng(0)
    import cv2

    tex = cv2.GaussianBlur((rng.random((96, 128)) * 255).astype(np.uint8), (5, 5), 1.5)
    prev = tex
    cur = np.roll(tex, shift=(2, 3), axis=(0, 1))  # content moved down 2, right 3
    flow = dis_flow(cur, prev)  # cur(x) ~ prev(x + flow): flow ~ (-3, -2)
    inner = flow[16:-16, 16:-16]
    assert abs(np.median(inner[..., 0]) + 3) < 0.5 and abs(np.median(inner[..., 1]) + 2) < 0.5
    mask = _square(96, 128, 30, 40, 20)
    warped = warp_mask(mask, flow)
    moved = _square(96, 128, 32, 43, 20)
    assert (warped & moved).sum() / (warped | moved).sum() > 0.9


# ---------------------------------------------------------------------------------------------
# long-term merging and selection
# ---------------------------------------------------------------------------------------------
def _tracklet(tid, start, end, emb, score=1.0):
    tr = Tracklet(tid, start, end, np.asarray(emb, np.float32) * score * (end - start + 1))
    tr.score_sum = score * (end - start + 1)
    tr.frames = end - start + 1
    tr.category_votes = {0: tr.score_sum}
    return tr


def test_merge_tracklets_constructed_case():
    e1 = np.array([1.0, 0.0, 0.0])
    e2 = np.array([0.0, 1.0, 0.0])
    e1b = np.array([0.95, 0.0, 0.312])  # cos(e1, e1b) ~ 0.95
    e1c = np.array([0.85, 0.0, 0.527])  # cos(e1c, e1b) ~ 0.97 > cos(e1, e1b), cos(e1c, e1) = 0.85
    tracklets = [
        _tracklet(1, 0, 4, e1),  # A: object 1, first part
        _tracklet(2, 7, 10, e1b),  # B: object 1 after an occlusion
        _tracklet(3, 3, 9, e2),  # C: object 2
        _tracklet(4, 12, 14, e2),  # D: object 2 after a gap of 3 frames
        _tracklet(5, 2, 5, e1c),  # E: looks like object 1 but overlaps A in time
        _tracklet(6, 20, 22, -e1),  # F: unlike anything
    ]
    groups = merge_tracklets(tracklets, merge_sim=0.8, max_gap=None)
    # E-B is the most similar pair (0.97) and is merged first; A-B (0.95) is then refused because
    # A overlaps E in time; A-E overlap; C-D merge; F stays alone
    assert sorted(map(tuple, groups)) == [(1,), (3, 4), (5, 2), (6,)]
    # with a largest gap of 2 frames, C-D (gap 3) and E-B (gap 2 -> allowed) differ
    groups = merge_tracklets(tracklets, merge_sim=0.8, max_gap=2)
    assert sorted(map(tuple, groups)) == [(1,), (3,), (4,), (5, 2), (6,)]
    # a higher threshold merges only the pairs above it
    groups = merge_tracklets(tracklets, merge_sim=0.99, max_gap=None)
    assert sorted(map(tuple, groups)) == [(1,), (2,), (3, 4), (5,), (6,)]


def test_select_tracks_scores_limits_and_numbering():
    e = np.array([1.0, 0.0])
    tracklets = [
        _tracklet(1, 5, 9, e, 0.9),
        _tracklet(2, 0, 1, e, 0.5),
        _tracklet(3, 0, 9, e, 0.8),
        _tracklet(4, 12, 13, e, 0.9),
    ]
    groups = [[1, 4], [2], [3]]
    mapping, scores, _ = select_tracks(tracklets, groups, num_frames=20, select_thresh=0.1, max_tracks=None)
    # scores: {1, 4}: (4.5 + 1.8) / 20 = 0.315; {2}: 1.0 / 20 = 0.05 (dropped); {3}: 8 / 20 = 0.4
    assert mapping == {1: 2, 4: 2, 2: 0, 3: 1}  # numbered by first appearance: {3} starts at 0
    assert scores == pytest.approx({1: 0.4, 2: 0.315})
    mapping, _, _ = select_tracks(tracklets, groups, num_frames=20, select_thresh=0.0, max_tracks=1)
    assert mapping == {1: 0, 4: 0, 2: 0, 3: 1}


# ---------------------------------------------------------------------------------------------
# end to end
# ---------------------------------------------------------------------------------------------
class _ListProposer(torch.nn.Module):
    """Replays fixed per-frame masks as proposals."""

    def __init__(self, frames_masks):
        super().__init__()
        self.frames_masks = frames_masks
        self.t = 0

    def forward(self, batched_inputs):
        x = batched_inputs[0]
        masks = self.frames_masks[x["frame_idx"]]
        inst = Instances((x["height"], x["width"]))
        inst.pred_masks = (
            torch.from_numpy(np.stack(masks)) if masks else torch.zeros(0, x["height"], x["width"], dtype=torch.bool)
        )
        inst.scores = torch.full((len(masks),), 0.9)
        inst.pred_classes = torch.zeros(len(masks), dtype=torch.long)
        return [{"instances": inst}]


def test_unovost_segmenter_bridges_an_occlusion():
    """A red square moves right, disappears for 2 frames, reappears: one track after merging.
    A blue square is static throughout. A one-frame flicker is dropped by selection."""
    H, W, T = 48, 64, 10
    frames, props = [], []
    for t in range(T):
        img = np.full((H, W, 3), 128, np.uint8)
        red = _square(H, W, 8, 4 + 3 * t, 10)
        blue = _square(H, W, 30, 40, 12)
        masks = [blue]
        img[blue] = (255, 0, 0)
        if t not in (4, 5):
            img[red] = (0, 0, 255)
            masks.append(red)
        if t == 7:
            masks.append(_square(H, W, 40, 2, 5))  # a spurious proposal on gray background
        frames.append(img)
        props.append(masks)
    assoc = UnOVOSTAssociator(
        proposal_score_thresh=0.5, min_area=4, merge_sim=0.8, select_thresh=0.2, flow_preset="fast"
    )
    model = UnOVOSTSegmenter(proposer=_ListProposer(props), associator=assoc)
    outs = [o for _, o in model.run_video(frames, {"video_id": "v"})]
    assert len(outs) == T
    ids_red = {int(o.id_map[13, 4 + 3 * o.frame_idx + 5]) for o in outs if o.frame_idx not in (4, 5)}
    ids_blue = {int(o.id_map[36, 46]) for o in outs}
    assert len(ids_red) == 1 and len(ids_blue) == 1 and ids_red != ids_blue and 0 not in ids_red | ids_blue
    assert int(outs[7].id_map[42, 4]) == 0  # the flicker was not selected
    assert len(assoc.tracklets) == 4  # blue, red before, red after, flicker


def test_registered():
    assert ASSOCIATOR_REGISTRY.get("UnOVOSTAssociator") is UnOVOSTAssociator
    assert META_ARCH_REGISTRY.get("UnOVOSTSegmenter") is UnOVOSTSegmenter
