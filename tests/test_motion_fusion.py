"""The learned cue fusion of the real-video proposer (#14): the cue stack, the net in the proposer,
and tools/train_motion_fusion.py end to end on a tiny DAVIS-layout dataset."""

import cv2
import numpy as np
import pytest
import torch

from tests._data_helpers import make_davis
from tests.conftest import load_tool
from tests.test_motion_proposer import _clip, _inp
from uvmos.modeling.proposers import MotionFusionNet, MotionProposer
from uvmos.modeling.proposers.flow_cues import dis_flow
from uvmos.modeling.proposers.motion_fusion import CUE_NAMES


def test_cue_stack_sees_the_square_move_against_the_pan():
    """Camera pans (content 2 px/frame left), the square moves 4 px left and 4 px down: the flow
    t -> t-1 is (+2, 0) on the background and (+4, -4) on the square, so the residual is (+2, -4)."""
    p = MotionProposer(work_height=120)
    frames, gts = _clip(3)
    g0, g1 = (np.ascontiguousarray(f.mean(-1).astype(np.uint8)) for f in frames[1:3])
    cues = p.cue_stack(dis_flow(p._dis, g1, g0))
    assert cues.shape == (len(CUE_NAMES), 120, 160) and cues.dtype == np.float32
    inner = cv2.erode(gts[2].astype(np.uint8), np.ones((13, 13), np.uint8)) > 0
    outer = cv2.dilate(gts[2].astype(np.uint8), np.ones((13, 13), np.uint8)) == 0
    inside, outside = cues[:, inner], cues[:, outer]
    assert np.median(inside[0]) > 0.5 and np.median(inside[1]) < -0.5  # residual x > 0, y < 0
    assert np.median(inside[3]) > 0.9 > 0.1 > np.median(outside[3])  # speed score
    assert np.abs(cues[:3]).max() <= 4.0


def _constant_net(logit: float) -> MotionFusionNet:
    net = MotionFusionNet(width=4, dilations=(1,))
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.weight.zero_()
                m.bias.fill_(logit)
    return net


def _proposal_masks(frames, **kw):
    p = MotionProposer(work_height=120, temporal_weight=0.0, **kw)
    return [p([_inp(f, t)])[0]["instances"].pred_masks.numpy() for t, f in enumerate(frames)]


def test_fusion_gate_vetoes_but_never_adds():
    """Gate mode: a net that says "background" everywhere removes every proposal; one that says
    "foreground" everywhere changes nothing (it cannot add motion). Blend mode does add."""
    frames, _ = _clip(4)
    plain = _proposal_masks(frames)
    assert [len(m) for m in plain] == [0, 1, 1, 1]
    vetoed = _proposal_masks(frames, fusion=_constant_net(-20.0))
    assert [len(m) for m in vetoed] == [0, 0, 0, 0]
    allowed = _proposal_masks(frames, fusion=_constant_net(20.0))
    assert all(np.array_equal(a, b) for a, b in zip(plain, allowed))
    blended = _proposal_masks(frames, fusion=_constant_net(20.0), fusion_mode="blend", fusion_weight=0.5)
    assert sum(m.sum() for m in blended) > sum(m.sum() for m in plain)
    with pytest.raises(ValueError, match="fusion_mode must be 'gate' or 'blend'"):
        MotionProposer(fusion_mode="replace")


def test_train_motion_fusion_end_to_end(tmp_path):
    """The tool trains on one video, checks on the other, and the weights load through
    train.init_checkpoint (the framework's one weight door)."""
    from detectron2.config import LazyConfig
    from detectron2.data import DatasetCatalog

    from uvmos.data.builtin import register_davis
    from uvmos.engine.defaults import build_model
    from uvmos.utils.config import load_config

    frames, gts = _clip(4)
    maps = [g.astype(np.uint8) for g in gts]
    root = make_davis(str(tmp_path / "d"), {"a": maps, "b": maps[::-1]}, year="2016", binary=True)
    name = "_test_motion_fusion_train"
    if name not in DatasetCatalog.list():
        register_davis(name, root, "train", binary=True, year="2016")
    tool = load_tool("train_motion_fusion")
    out = tmp_path / "fusion.pth"
    meta = tool.main(
        ["--dataset", name, "--holdout", "b", "--out", str(out), "--cache", str(tmp_path / "cache")]
        + ["--iters", "3", "--batch", "2", "--crop", "64", "--width", "16"]
    )
    assert out.is_file() and meta["videos"] == ["a"] and set(meta["holdout_iou"]) == {"b"}
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 2
    cfg = LazyConfig.apply_overrides(
        load_config("configs/uvmos/real_cpu.py"), [f"train.init_checkpoint={{proposer.fusion:'{out}'}}"]
    )
    model = build_model(cfg, device="cpu")
    saved = torch.load(out, weights_only=True)["model"]
    for k, v in model.proposer.fusion.state_dict().items():
        assert torch.equal(v, saved[k])
    with pytest.raises(SystemExit, match="no video 'zzz'"):
        tool.main(["--dataset", name, "--holdout", "zzz", "--out", str(out)])
    with pytest.raises(SystemExit, match="not a MotionProposer"):
        tool.main(["--dataset", name, "--out", str(out), "--config-file", "configs/uvmos/tiny_cpu.py"])
