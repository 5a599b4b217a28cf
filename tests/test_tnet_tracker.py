"""T-Net tracker on oracle streams: ids, non-overlap, discovery, occlusion survival, limits."""
import numpy as np
import pytest
import torch
from detectron2.config import LazyCall as L
from detectron2.config import instantiate
from detectron2.structures import Instances

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

from tnet_stream import gt_id_maps, shapes_stream, tiny_backbone_features


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
    model = VideoSegmenter(OracleProposer(videos=[video]), trk, test_size=(64, 96))
    outs = list(model.run_video(frames, video))
    gt, res = gt_id_maps(video), np.stack([o["id_map"] for o in outs])
    assert res.dtype == np.int32 and res.shape == gt.shape
    ids1, ids2 = _majority_ids(gt, res, 1), _majority_ids(gt, res, 2)
    assert set(ids1) == {1}
    assert ids2[:5] == [2] * 5 and ids2[5:8] == [None] * 3 and ids2[8:] == [2] * 6  # resumed with its id
    assert trk.stats["created"] == 2 and trk.stats["verified"] > 10
    for o in outs:  # scores/classes only for the ids drawn in the map
        assert set(o["track_scores"]) == set(np.unique(o["id_map"]).tolist()) - {0}
        assert set(o["track_classes"]) == set(o["track_scores"])


def test_discovery_waits_for_new_objects_and_respects_max_tracks():
    frames, video = shapes_stream(length=6)
    # object 2 appears only from frame 3: drop it before
    for t in range(3):
        video["annotations"][t] = [a for a in video["annotations"][t] if a["instance_id"] == 1]
    trk = _tracker()
    outs = list(VideoSegmenter(OracleProposer(videos=[video]), trk, test_size=(64, 96)).run_video(frames, video))
    assert [sorted(o["track_scores"]) for o in outs[:3]] == [[1]] * 3
    assert sorted(outs[3]["track_scores"]) == [1, 2]

    # many spurious proposals: never more than max_tracks ids in a video
    noisy = OracleProposer(videos=[video], false_positives=4.0, fp_scores=(0.9, 1.0), seed=3)
    trk = _tracker(max_tracks=3)
    outs = list(VideoSegmenter(noisy, trk, test_size=(64, 96)).run_video(frames, video))
    ids = set().union(*[set(np.unique(o["id_map"]).tolist()) for o in outs]) - {0}
    assert trk.num_created == 3 and ids <= {1, 2, 3}


def test_lost_tracks_end_after_max_lost_frames():
    frames, video = shapes_stream(length=12, hidden=(4, 5, 6, 7))
    trk = _tracker(max_lost_frames=2, verifier=NoVerifier(), memory=NoUpdateMemory())
    outs = list(VideoSegmenter(OracleProposer(videos=[video]), trk, test_size=(64, 96)).run_video(frames, video))
    ids2 = _majority_ids(gt_id_maps(video), np.stack([o["id_map"] for o in outs]), 2)
    assert ids2[:4] == [2] * 4
    assert ids2[8] not in (None, 2)  # track 2 ended during the occlusion: the object came back as new
    assert 2 not in trk.tracks


def test_step_output_contract_and_reset():
    frames, video = shapes_stream(length=2)
    trk = build(
        ASSOCIATOR_REGISTRY, "TNetTracker", features=tiny_backbone_features(), target_model=ConvTargetModel(),
        solver=GaussNewtonCG(), verifier=ReIDVerifier(), reid=MaskPooledEmbedder(("res3",)),
        memory=AdaptiveMemory(), target_feature="res3", min_area=4,
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
    frames, video = shapes_stream(length=6)
    trk = _tracker(result_mode="proposal", snap_thresh=0.3)
    outs = list(VideoSegmenter(OracleProposer(videos=[video]), trk, test_size=(64, 96)).run_video(frames, video))
    # perfect proposals, and the tracking results are those proposals: the id maps are the ground truth
    assert np.array_equal(np.stack([o["id_map"] for o in outs]), gt_id_maps(video))
    assert trk.stats["verified"] == trk.stats["results"] == 10  # 2 objects x 5 frames after the first
    with pytest.raises(ValueError, match="result_mode"):
        _tracker(result_mode="nope")
