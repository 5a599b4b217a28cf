"""T-Net tracker on oracle streams: ids, non-overlap, discovery, occlusion survival, limits."""

import numpy as np
import pytest
import torch
from detectron2.config import LazyCall as L
from detectron2.config import instantiate
from detectron2.structures import Instances
from tnet_stream import gt_id_maps, shapes_stream, tiny_backbone_features

import uvmos  # noqa: F401
from uvmos.modeling.meta_arch import VideoSegmenter
from uvmos.modeling.proposers import OracleProposer
from uvmos.modeling.tnet import (
    AdaptiveMemory,
    ConvTargetModel,
    GaussNewtonCG,
    MaskPooledEmbedder,
    NoUpdateMemory,
    NoVerifier,
    ReIDVerifier,
    TNetTracker,
)
from uvmos.registry import ASSOCIATOR_REGISTRY, build


def _tracker(**kw):
    args = dict(
        features=tiny_backbone_features(),
        target_model=ConvTargetModel(),
        solver=GaussNewtonCG(),
        verifier=ReIDVerifier(),
        reid=MaskPooledEmbedder(("res3", "res4")),
        memory=AdaptiveMemory(),
        target_feature="res2",
        min_area=4,
    )
    args.update(kw)
    return TNetTracker(**args)


def _majority_ids(gt, res, obj):
    out = []
    for g, r in zip(gt, res):
        m = g == obj
        if not m.any():
            out.append(None)
            continue
        ids, c = np.unique(r[m], return_counts=True)
        out.append(int(ids[np.argmax(c)]))
    return out


def test_tracks_keep_ids_and_survive_occlusion():
    frames, video = shapes_stream(length=14, hidden=(5, 6, 7))
    trk = _tracker()
    model = VideoSegmenter(OracleProposer(videos=[video]), trk)
    outs = [o for _, o in model.run_video(frames, video)]
    gt, res = gt_id_maps(video), np.stack([o.id_map for o in outs])
    assert res.dtype == np.int32 and res.shape == gt.shape
    ids1, ids2 = _majority_ids(gt, res, 1), _majority_ids(gt, res, 2)
    assert set(ids1) == {1}
    assert ids2[:5] == [2] * 5 and ids2[5:8] == [None] * 3 and ids2[8:] == [2] * 6  # resumed with its id
    assert trk.stats["created"] == 2 and trk.stats["verified"] > 10
    for o in outs:  # scores/classes only for the ids drawn in the map
        assert set(o.track_scores) == set(np.unique(o.id_map).tolist()) - {0}
        assert set(o.track_classes) == set(o.track_scores)


def test_discovery_waits_for_new_objects_and_respects_max_tracks():
    frames, video = shapes_stream(length=6)
    # object 2 appears only from frame 3: drop it before
    for t in range(3):
        video["annotations"][t] = [a for a in video["annotations"][t] if a["instance_id"] == 1]
    trk = _tracker()
    outs = [o for _, o in VideoSegmenter(OracleProposer(videos=[video]), trk).run_video(frames, video)]
    assert [sorted(o.track_scores) for o in outs[:3]] == [[1]] * 3
    assert sorted(outs[3].track_scores) == [1, 2]

    # many spurious proposals: never more than max_tracks ids in a video
    noisy = OracleProposer(videos=[video], false_positives=4.0, fp_scores=(0.9, 1.0), seed=3)
    trk = _tracker(max_tracks=3)
    outs = [o for _, o in VideoSegmenter(noisy, trk).run_video(frames, video)]
    ids = set().union(*[set(np.unique(o.id_map).tolist()) for o in outs]) - {0}
    assert trk.num_created == 3 and ids <= {1, 2, 3}


def test_lost_tracks_end_after_max_lost_frames():
    frames, video = shapes_stream(length=12, hidden=(4, 5, 6, 7))
    trk = _tracker(max_lost_frames=2, verifier=NoVerifier(), memory=NoUpdateMemory())
    outs = [o for _, o in VideoSegmenter(OracleProposer(videos=[video]), trk).run_video(frames, video)]
    ids2 = _majority_ids(gt_id_maps(video), np.stack([o.id_map for o in outs]), 2)
    assert ids2[:4] == [2] * 4
    assert ids2[8] not in (None, 2)  # track 2 ended during the occlusion: the object came back as new
    assert 2 not in trk.tracks


def test_step_output_contract_and_reset():
    frames, video = shapes_stream(length=2)
    trk = build(
        ASSOCIATOR_REGISTRY,
        "TNetTracker",
        features=tiny_backbone_features(),
        target_model=ConvTargetModel(),
        solver=GaussNewtonCG(),
        verifier=ReIDVerifier(),
        reid=MaskPooledEmbedder(("res3",)),
        memory=AdaptiveMemory(),
        target_feature="res3",
        min_area=4,
    )
    frame = {"image": torch.from_numpy(frames[0].transpose(2, 0, 1).copy()), "height": 64, "width": 96, "frame_idx": 0}
    inst = Instances((64, 96))
    m = torch.zeros(2, 64, 96, dtype=torch.bool)
    m[0, 10:30, 10:30] = True
    m[1, 20:40, 20:60] = True  # overlaps the first
    inst.pred_masks, inst.scores, inst.pred_classes = m, torch.tensor([0.9, 0.8]), torch.tensor([0, 0])
    out = trk.step(frame, {"instances": inst})
    assert out["id_map"].dtype == torch.int32 and out["id_map"].shape == (64, 96)
    assert sorted(out["track_scores"]) == [1, 2]  # IoU(0, 1) < 0.1: two objects
    assert (out["id_map"][m[0]] == 1).all()  # overlap kept by the first (discovered first, painted first)
    trk.reset({"video_id": "other"})
    assert trk.tracks == {} and trk.num_created == 0
    with pytest.raises(KeyError, match="target_feature"):
        _tracker(target_feature="nope").step(frame, {"instances": inst})


def test_lazycall_builds_the_tracker():
    cfg = L(TNetTracker)(
        features=L(tiny_backbone_features)(),
        target_model=L(ConvTargetModel)(),
        solver=L(GaussNewtonCG)(),
        verifier=L(ReIDVerifier)(),
        reid=L(MaskPooledEmbedder)(in_features=("res3",)),
        memory=L(AdaptiveMemory)(),
        target_feature="res3",
    )
    trk = instantiate(cfg)
    assert isinstance(trk, TNetTracker) and isinstance(trk.memory, AdaptiveMemory)


def test_proposal_result_mode_snaps_to_proposals():
    """The named variant: y̌_j snapped to a proposal before eq. 10 (not the default)."""
    frames, video = shapes_stream(length=6)
    trk = _tracker(result_mode="proposal", snap_thresh=0.3)
    outs = [o for _, o in VideoSegmenter(OracleProposer(videos=[video]), trk).run_video(frames, video)]
    # perfect proposals, and the tracking results are those proposals: the id maps are the ground truth
    assert np.array_equal(np.stack([o.id_map for o in outs]), gt_id_maps(video))
    assert trk.stats["verified"] == trk.stats["results"] == 10  # 2 objects x 5 frames after the first
    with pytest.raises(ValueError, match="result_mode"):
        _tracker(result_mode="nope")


def test_default_verification_is_not_a_no_op():
    """Paper default: y̌_j is the thresholded score map, so eq. 10 decides. A proposal that matches
    the target verifies it; a far-away proposal of another object does not; nothing is verified
    once the proposals are removed (then the results are the target model's own maps)."""
    frames, video = shapes_stream(length=8)
    trk = _tracker()
    assert trk.result_mode == "threshold"
    model = VideoSegmenter(OracleProposer(videos=[video]), trk)
    outs = [o for _, o in model.run_video(frames[:4], video)]
    assert trk.stats["verified"] == trk.stats["results"] == 6  # 2 targets x 3 frames, true proposals
    # frames 4..7 with no proposal at all: results come from the target models, never verified
    empty = {
        "video_id": video["video_id"],
        "height": 64,
        "width": 96,
        "length": 8,
        "annotations": video["annotations"][:4] + [[] for _ in range(4)],
    }
    trk2 = _tracker()
    outs = [o for _, o in VideoSegmenter(OracleProposer(videos=[empty]), trk2).run_video(frames, empty)]
    assert trk2.stats["verified"] == 6 and trk2.stats["results"] > 6
    assert trk2.stats["matched"] == 6  # no proposal, no match: the later results are not stored
    assert all(set(o.track_scores) <= {1, 2} for o in outs[4:])
    later = _majority_ids(gt_id_maps(video)[4:], np.stack([o.id_map for o in outs[4:]]), 1)
    assert later.count(1) >= 3  # the target model alone keeps object 1


def test_eq10_skips_empty_results_with_the_same_verification():
    """Eq. 10 runs only on targets with a non-empty y̌_j (an empty one has IoU 0 with every
    proposal, so s = 0); expanded to all targets it equals eq. 10 computed on every target (up to
    float rounding)."""
    frames, video = shapes_stream(length=5)
    trk = _tracker()
    seen = []
    step = trk.step
    trk.step = lambda inp, props: (seen.append((inp, props)), step(inp, props))[1]
    list(VideoSegmenter(OracleProposer(videos=[video]), trk).run_video(frames[:4], video))
    f = trk._predict(*seen[-1])
    assert len(f.tracks) == 2 and f.live == [0, 1] and bool(f.results.flatten(1).any(1).all())
    every = f.results.clone()
    every[1] = False  # target 2 lost this frame: no longer live
    f.live, f.results, f.S_up = [0], f.results[:1], f.S_up[:1]
    ver, emb = trk._eq10(f)
    first = torch.stack([tr.first_emb for tr in f.tracks])
    full = trk.verifier.verify(f.props.work, f.props.emb, every, trk._embed(f.feats, every), first)
    assert torch.equal(ver.best, full.best.cpu()) and torch.equal(ver.verified, full.verified.cpu())
    for name in ("scores", "best_score"):  # a batch of 1 vs 2 embeddings: equal up to float rounding
        assert torch.allclose(getattr(ver, name), getattr(full, name).cpu(), atol=1e-6), name
    assert not emb[1].any() and int(ver.best[1]) == -1 and bool(ver.verified[0])


def test_max_tracks_caps_active_tracks_only():
    """Ended tracks free their place: with max_tracks=1 and the first object gone for good, the
    second object is discovered once the first track has ended (ids are not reused)."""
    frames, video = shapes_stream(length=10)
    gt = gt_id_maps(video)
    for t in range(2, 10):  # object 1 leaves for good after frame 1: painted over
        frames[t] = frames[t].copy()
        frames[t][gt[t] == 1] = 110
    for t in range(10):  # object 1 only in frames 0-1, object 2 only from frame 4
        keep = {1} if t < 2 else ({2} if t >= 4 else set())
        video["annotations"][t] = [a for a in video["annotations"][t] if a["instance_id"] in keep]
    trk = _tracker(max_tracks=1, max_lost_frames=1, verifier=NoVerifier())
    outs = [o for _, o in VideoSegmenter(OracleProposer(videos=[video]), trk).run_video(frames, video)]
    assert trk.stats["ended"] >= 1 and trk.stats["created"] == 2
    assert 2 in outs[-1].track_scores and set(trk.tracks) == {2}


def test_working_resolution_keeps_full_resolution_output():
    """Decisions at a subsampled working resolution (work_max_side) give the same tracks, and the
    id map is still drawn at the frame's resolution from the full-resolution proposals."""
    frames, video = shapes_stream(length=6)
    runs = []
    for side in (None, 48):
        trk = _tracker(work_max_side=side)
        runs.append(
            np.stack(
                [o.id_map for _, o in VideoSegmenter(OracleProposer(videos=[video]), trk).run_video(frames, video)]
            )
        )
        assert trk.stats["verified"] == 10
    assert runs[1].shape == runs[0].shape == gt_id_maps(video).shape
    assert np.array_equal(runs[1], runs[0])  # verified targets take the full-resolution proposals


def test_proposer_features_max_cells_keeps_the_aspect_ratio():
    from uvmos.modeling.tnet import ProposerFeatures

    frame = {"image": torch.zeros(3, 480, 854, dtype=torch.uint8)}
    feats = {"res3": torch.randn(1, 8, 60, 107), "res5": torch.randn(1, 8, 30, 54)}
    out = ProposerFeatures(keys=("res3", "res5"), max_cells=1024)(frame, {"features": feats})
    h, w = out["res3"].shape[-2:]
    assert h * w <= 1024 and abs(w / h - 107 / 60) < 0.1
    assert out["res5"].shape[-2:] == (24, 43) or out["res5"].shape[-2] * out["res5"].shape[-1] <= 1024
    frame_small = {"image": torch.zeros(3, 160, 240, dtype=torch.uint8)}
    small = ProposerFeatures(max_cells=1024)(frame_small, {"features": {"res5": feats["res5"][..., :20, :30]}})
    assert small["res5"].shape[-2:] == (20, 30)  # a map already under the cap is kept
    with pytest.raises(ValueError, match="either"):
        ProposerFeatures(size=(30, 30), max_cells=900)


def test_a_result_below_min_area_is_drawn_nowhere():
    """A target whose final mask is under min_area is lost for the frame: none of its pixels stay
    in the id map (so an ended target can never appear in the output)."""
    frames, video = shapes_stream(length=3)
    trk = _tracker(min_area=4)
    model = VideoSegmenter(OracleProposer(videos=[video]), trk)
    list(model.run_video(frames[:1], video))
    trk.min_area = 10**6  # every result is now "too small"
    frame = {"image": torch.from_numpy(frames[1].transpose(2, 0, 1).copy()), "height": 64, "width": 96, "frame_idx": 1}
    inst = Instances((64, 96))
    inst.pred_masks, inst.scores = torch.zeros(0, 64, 96, dtype=torch.bool), torch.zeros(0)
    out = trk.step(frame, {"instances": inst})
    assert int(out["id_map"].max()) == 0 and out["track_scores"] == {}
    assert all(tr.lost_frames == 1 for tr in trk.tracks.values())


def test_proposer_features_concat_stacks_maps_on_the_first_grid():
    """``concat`` resamples every part to the first one's grid, scales each to unit RMS (so
    each weighs the same in W1's PCA) and adds the frame's centred colours as ``"image"``."""
    from uvmos.modeling.tnet import ProposerFeatures

    img = torch.zeros(3, 96, 160, dtype=torch.uint8)
    img[2, 32:64, 48:96] = 255  # a red patch (BGR)
    feats = {
        "res3": 50 * torch.randn(1, 8, 12, 20),
        "res2": 0.01 * torch.randn(1, 4, 24, 40),
        "res5": torch.randn(1, 6, 6, 10),
    }
    src = ProposerFeatures(keys=("res5",), concat={"tnet": ("res3", "res2", "image")})
    out = src({"image": img}, {"features": feats})
    assert set(out) == {"res5", "tnet"}  # the parts themselves are not returned unless asked
    t = out["tnet"]
    assert t.shape == (1, 8 + 4 + 3, 12, 20)
    for lo, hi in ((0, 8), (8, 12), (12, 15)):
        assert abs(float(t[:, lo:hi].pow(2).mean().sqrt()) - 1.0) < 1e-4
    red = t[0, 14]  # the R channel of the image part
    assert float(red[5, 8]) > 0 > float(red[0, 0])  # inside the patch above the frame's mean, outside below
    with pytest.raises(KeyError, match="res4"):
        ProposerFeatures(concat={"x": ("res4",)})({"image": img}, {"features": feats})


def test_proposer_features_image_std_is_the_texture_within_each_cell():
    """``"image_std"``: per-cell colour spread, so a striped and a flat patch of the same mean colour
    differ (what tells same-shaped objects with different textures apart)."""
    from uvmos.modeling.tnet import ProposerFeatures

    img = torch.full((3, 96, 160), 128, dtype=torch.uint8)
    img[:, 0:48, 0:80] = torch.tensor([0, 255], dtype=torch.uint8).repeat(40)  # stripes, mean 127.5
    feats = {"res3": torch.randn(1, 8, 12, 20)}
    src = ProposerFeatures(concat={"tnet": ("res3", "image", "image_std")})
    t = src({"image": img}, {"features": feats})["tnet"]
    assert t.shape == (1, 8 + 3 + 3, 12, 20)
    spread = t[0, 11]
    assert float(spread[2, 2]) > 0 > float(spread[9, 15])  # striped above the frame's mean spread, flat below
    assert float(spread[2, 2]) == pytest.approx(float(spread[4, 8]))  # the same stripes everywhere


def test_proposer_features_image_cov_tells_a_grey_texture_from_a_two_hue_one():
    """``"image_cov"``: per-cell correlation of the colour channels. Light/dark grey stripes move
    all channels together (+1); blue/red stripes move B against R (-1); both have the same
    per-channel spread, so ``"image_std"`` alone cannot tell them apart."""
    from uvmos.modeling.tnet import ProposerFeatures

    img = torch.full((3, 96, 160), 128, dtype=torch.uint8)
    stripes = torch.tensor([0, 255], dtype=torch.uint8).repeat(40)
    img[:, 0:48, 0:80] = stripes  # grey: B, G, R alike
    img[0, 48:96, 80:160], img[2, 48:96, 80:160] = stripes, 255 - stripes  # blue against red
    img[1, 48:96, 80:160] = 128
    feats = {"res3": torch.randn(1, 8, 12, 20)}
    src = ProposerFeatures(concat={"tnet": ("res3", "image_std", "image_cov")})
    t = src({"image": img}, {"features": feats})["tnet"]
    assert t.shape == (1, 8 + 3 + 3, 12, 20)
    std, cov = t[0, 8:11], t[0, 11:14]  # image_cov pairs: (B,G), (G,R), (B,R)
    assert float(std[0, 2, 2]) == pytest.approx(float(std[0, 9, 15]))  # same blue spread in both patches
    assert float(cov[2, 2, 2]) > float(cov[2, 6, 6]) > float(cov[2, 9, 15])  # B,R: +1 grey, 0 flat, -1 two hues


def test_scores_in_one_convolution_equal_the_two_layer_model():
    """``_scores``: W2 * (W1 * X) for all targets from one composite 3x3 kernel per target (eq. 8)."""
    from uvmos.modeling.tnet import ConvTargetModel
    from uvmos.modeling.tnet.state import Tracklet

    g = torch.Generator().manual_seed(0)
    X = torch.randn(1, 6, 9, 11, generator=g)
    tm = ConvTargetModel(hidden_channels=4, kernel_size=3)
    params = [[torch.randn(4, 6, 1, 1, generator=g), torch.randn(1, 4, 3, 3, generator=g)] for _ in range(3)]
    tracks = [Tracklet(i, p, None, None, None, 0) for i, p in enumerate(params)]
    S = _tracker()._scores(X, tracks)
    ref = torch.cat([tm.filter(tm.project(X, w1), w2) for w1, w2 in params])
    assert S.shape == (3, 1, 9, 11) and torch.allclose(S, ref, atol=1e-5)


def test_num_threads_applies_to_the_step_only():
    """``num_threads``: T-Net's many small operations run on that many torch threads (they then
    stop waiting at OpenMP barriers on a busy machine); the caller's setting is restored."""
    frames, video = shapes_stream(length=3)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        seen = []
        trk = _tracker(num_threads=1)
        step = trk._predict
        trk._predict = lambda *a: (seen.append(torch.get_num_threads()), step(*a))[1]
        list(VideoSegmenter(OracleProposer(videos=[video]), trk).run_video(frames, video))
        assert seen == [1, 1, 1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("release_after", [None, 1])
def test_release_after_gives_up_unverified_results(release_after):
    """Object 2 stays in view but has no proposal in frames 5-9, so its target cannot be verified.
    The paper (None) keeps y̌_j, drawn as id 2; the ``release_after`` variant draws nothing after
    1 failed frame and takes the object back, with its id, once a proposal verifies it."""
    frames, video = shapes_stream(length=14)
    gt = gt_id_maps(video)  # object 2 is in view in every frame
    for t in range(5, 10):
        video["annotations"][t] = [a for a in video["annotations"][t] if a["instance_id"] == 1]
    trk = _tracker(release_after=release_after)
    outs = [o for _, o in VideoSegmenter(OracleProposer(videos=[video]), trk).run_video(frames, video)]
    ids2 = _majority_ids(gt, np.stack([o.id_map for o in outs]), 2)
    assert ids2[:5] == [2] * 5 and ids2[10:] == [2] * 4 and trk.stats["created"] == 2
    if release_after is None:
        assert ids2[5:10] == [2] * 5
    else:
        assert ids2[5] == 2 and ids2[6:10] == [0] * 4
