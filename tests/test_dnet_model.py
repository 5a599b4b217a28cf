"""The full D-Net: shapes/strides/channels, SGM on/off, first-frame guidance, training losses, overfit check."""

from pathlib import Path

import pytest
import torch
from detectron2.config import LazyConfig, instantiate
from detectron2.structures import BitMasks, Instances

from uvmos.modeling.backbone import build_dilated_resnet
from uvmos.modeling.dnet import ASPPNeck, DNet, DNetTargetGenerator, InstanceHead, SalientHead, SEGuidanceFusion
from uvmos.registry import META_ARCH_REGISTRY, PROPOSER_REGISTRY, build

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "dnet"


def _cfg(name):
    return LazyConfig.load(str(CONFIGS / name))


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return instantiate(_cfg("tiny_cpu.py").model)


def _frame(h=64, w=96, seed=0, boxes=((8, 10, 30, 40), (30, 50, 60, 90))):
    """A frame pair with bright rectangles (objects) on noise, and its mapper-style dict."""
    g = torch.Generator().manual_seed(seed)
    img = torch.randint(0, 80, (3, h, w), generator=g, dtype=torch.uint8)
    masks = torch.zeros(len(boxes), h, w, dtype=torch.bool)
    for k, (y0, x0, y1, x1) in enumerate(boxes):
        masks[k, y0:y1, x0:x1] = True
        img[:, y0:y1, x0:x1] = torch.tensor([200, 120 + 60 * k, 40])[:, None, None].to(torch.uint8)
    inst = Instances((h, w))
    inst.gt_masks = BitMasks(masks)
    inst.gt_classes = torch.zeros(len(boxes), dtype=torch.long)
    sem = masks.any(0).long()
    return {
        "image": img,
        "prev_image": img.clone(),
        "instances": inst,
        "prev_instances": inst,
        "sem_seg": sem,
        "height": h,
        "width": w,
    }


def test_strides_and_channels(tiny):
    tiny.eval()
    x = _frame()
    images = tiny._images([x], "image").tensor
    guide = torch.zeros(1, 4, 64, 96)
    out = tiny.forward_tensors(images, guide)
    f = out["features"]
    expect = {
        "res2": (16, 4),
        "res3": (32, 8),
        "res5": (128, 16),
        "x_sal": (64, 16),
        "x_ins": (64, 16),
        "x_sgm": (64, 16),
    }
    for k, (c, s) in expect.items():
        assert tuple(f[k].shape) == (1, c, 64 // s, 96 // s), k
    assert out["sal_logits"].shape == (1, 2, 64, 96)
    assert out["center"].shape == (1, 1, 64, 96) and out["offset"].shape == (1, 2, 64, 96)
    assert torch.allclose(
        out["alpha_sal"] + tiny.sal_fusion.attention(f["x_sal"], f["x_sgm"], f["x_ins"])[1], torch.ones(1, 64)
    )


def test_eval_outputs_at_frame_size(tiny):
    tiny.eval()
    x = _frame()
    inp = {
        "image": x["image"],
        "height": 128,
        "width": 192,
        "prev_image": x["prev_image"],
        "prev_mask": x["sem_seg"][None].float(),
    }
    (r,) = tiny([inp])
    inst = r["instances"]
    assert inst.image_size == (128, 192)
    assert inst.pred_masks.dtype == torch.bool and inst.pred_masks.shape[1:] == (128, 192)
    assert len(inst.scores) == len(inst.pred_classes) == len(inst)
    assert r["foreground"].shape == (128, 192) and 0 <= r["foreground"].min() <= r["foreground"].max() <= 1
    assert set(r["features"]) >= {"res2", "res3", "res5"}


def test_first_frame_guidance(tiny):
    tiny.eval()
    calls = []
    h = tiny.sgm_backbone.register_forward_hook(lambda m, i, o: calls.append(i[0][:, 3].clone()))
    try:
        x = _frame()
        first = {"image": x["image"], "height": 64, "width": 96}
        later = dict(first, prev_image=x["prev_image"], prev_mask=x["sem_seg"][None].float())
        tiny.first_frame = "two_pass"
        tiny([first])
        assert len(calls) == 2  # empty mask, then the frame's own foreground
        assert torch.allclose(calls[0], torch.full_like(calls[0], -127.5 / float(tiny.pixel_std.mean())))
        calls.clear()
        tiny([later])
        assert len(calls) == 1
        calls.clear()
        tiny.first_frame = "zero"
        tiny([first, later])
        assert len(calls) == 1
    finally:
        tiny.first_frame = "two_pass"
        h.remove()


def test_without_sgm():
    torch.manual_seed(0)
    full = instantiate(_cfg("tiny_cpu.py").model)
    wo = instantiate(_cfg("dnet_wo_sgm.py").model)
    assert not wo.use_sgm and not any(
        n.startswith(("sgm_", "sal_fusion", "ins_fusion")) for n, _ in wo.named_parameters()
    )
    assert sum(p.numel() for p in wo.parameters()) < sum(p.numel() for p in full.parameters())
    wo.eval()
    x = _frame()
    a = wo([{"image": x["image"], "height": 64, "width": 96}])[0]
    b = wo(
        [
            {
                "image": x["image"],
                "height": 64,
                "width": 96,
                "prev_image": x["image"] * 0,
                "prev_mask": torch.ones(1, 64, 96),
            }
        ]
    )[0]
    assert torch.equal(a["foreground"], b["foreground"])  # guidance is ignored
    wo.train()
    losses = wo([_frame()])
    assert set(losses) == {"loss_sal", "loss_center", "loss_offset"}


def test_training_losses_with_and_without_mapper_targets(tiny):
    tiny.train()
    tiny.guidance_perturbation = None
    x = _frame()
    with_targets = DNetTargetGenerator(sigma=5.0)(x)
    torch.manual_seed(0)
    a = tiny([x, _frame(seed=1)])
    torch.manual_seed(0)
    b = tiny([with_targets, _frame(seed=1)])
    assert set(a) == {"loss_sal", "loss_center", "loss_offset"}
    for k in a:
        assert torch.isfinite(a[k]) and a[k] > 0
        assert torch.allclose(a[k], b[k]), k
    bad = dict(x)
    del bad["prev_image"]
    with pytest.raises(KeyError, match="prev_image"):
        tiny([bad])


def test_overfits_one_batch():
    """Each loss drops on one fixed batch (SGD as in configs/common/optim.py)."""
    torch.manual_seed(0)
    model = instantiate(_cfg("tiny_cpu.py").model)
    model.guidance_perturbation = None
    model.train()
    batch = [_frame(seed=0), _frame(seed=1, boxes=((5, 5, 25, 25), (35, 30, 60, 70)))]
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    history = []
    for _ in range(30):
        losses = model(batch)
        history.append({k: float(v) for k, v in losses.items()})
        opt.zero_grad()
        sum(losses.values()).backward()
        opt.step()
    first, last = history[0], {k: min(h[k] for h in history[-5:]) for k in history[0]}
    for k in first:
        assert last[k] < 0.7 * first[k], (k, first[k], last[k])


def _parts(sgm=True):
    bb = build_dilated_resnet(depth=18, norm="BN", stem_out_channels=8, res2_out_channels=8)
    kw = dict(in_channels=16, res3_channels=16, res2_channels=8, decoder_channels=8)
    parts = dict(
        backbone=bb,
        sal_neck=ASPPNeck(64, 16),
        ins_neck=ASPPNeck(64, 16),
        sal_head=SalientHead(**kw),
        ins_head=InstanceHead(**kw),
    )
    if sgm:
        parts.update(
            sgm_backbone=build_dilated_resnet(
                depth=18, in_channels=4, norm="BN", stem_out_channels=8, res2_out_channels=8, out_features=("res5",)
            ),
            sgm_neck=ASPPNeck(64, 16),
            sal_fusion=SEGuidanceFusion(16),
            ins_fusion=SEGuidanceFusion(16),
        )
    return parts


def test_build_by_name_and_errors():
    m = build(META_ARCH_REGISTRY, "DNet", **_parts())
    p = build(PROPOSER_REGISTRY, "DNet", use_sgm=False, **_parts(sgm=False))
    assert isinstance(m, DNet) and isinstance(p, DNet) and m.use_sgm and not p.use_sgm
    with pytest.raises(ValueError, match="sgm_backbone"):
        DNet(**_parts(sgm=False))
    parts = _parts()
    parts["sal_neck"] = ASPPNeck(32, 16)
    with pytest.raises(ValueError, match="sal_neck.in_channels=32"):
        DNet(**parts)
    parts = _parts()
    parts["sgm_backbone"] = build_dilated_resnet(depth=18, norm="BN", stem_out_channels=8, res2_out_channels=8)
    with pytest.raises(ValueError, match="4 input channels"):
        DNet(**parts)
    with pytest.raises(ValueError, match="loss_weights"):
        DNet(loss_weights={"loss_mask": 1.0}, **_parts())


def test_configs_load():
    for name in ("tiny_cpu.py", "dnet_wo_sgm.py", "r50_paper.py", "r50_paper_wo_sgm.py"):
        cfg = _cfg(name)
        for key in ("model", "dataloader", "optimizer", "lr_multiplier", "train"):
            assert key in cfg, (name, key)
        assert cfg.optimizer.momentum == 0.9 and cfg.optimizer.weight_decay == 5e-4
        assert cfg.dataloader.evaluator.dataset_name == cfg.dataloader.test.dataset_name
    paper = _cfg("r50_paper.py")
    assert paper.model.backbone.depth == 50 and paper.model.backbone.res5_dilation == 2
    assert paper.model.sal_neck.out_channels == 256 and tuple(paper.model.sal_neck.dilations) == (6, 12, 18)
    assert tuple(paper.dataloader.train.mapper.augmentations.crop_size) == (640, 640)
    assert tuple(paper.model.test_size) == (480, 854) and paper.model.target_generator.sigma == 10.0
    sched = instantiate(paper.lr_multiplier)
    assert sched(0.0) < 0.01 and abs(sched(0.5) - 0.5**0.9) < 1e-6 and sched(1.0) == 0.0


@pytest.mark.slow
def test_r50_paper_model_strides_and_channels():
    cfg = _cfg("r50_paper.py")
    model = instantiate(cfg.model).eval()
    images = torch.zeros(1, 3, 480, 864)
    out = model.forward_tensors(images, torch.zeros(1, 4, 480, 864))
    f = out["features"]
    expect = {
        "res2": (256, 4),
        "res3": (512, 8),
        "res5": (2048, 16),
        "x_sal": (256, 16),
        "x_ins": (256, 16),
        "x_sgm": (256, 16),
    }
    for k, (c, s) in expect.items():
        assert tuple(f[k].shape) == (1, c, 480 // s, 864 // s), k


def test_semantic_variant_k_plus_one_classes():
    """YouTube-VIS variant (§4.3): the salient head predicts K+1 labels, instances get a class."""
    torch.manual_seed(0)
    parts = _parts(sgm=False)
    kw = dict(in_channels=16, res3_channels=16, res2_channels=8, decoder_channels=8)
    parts["sal_head"] = SalientHead(num_classes=4, **kw)
    model = DNet(use_sgm=False, **parts)
    x = _frame()
    x["instances"].gt_classes = torch.tensor([0, 2])
    x["sem_seg"] = torch.zeros(64, 96, dtype=torch.long)
    for m, c in zip(x["instances"].gt_masks.tensor, [0, 2]):
        x["sem_seg"][m] = c + 1
    model.train()
    losses = model([x])
    assert torch.isfinite(losses["loss_sal"])
    bad = dict(x, sem_seg=torch.full((64, 96), 7, dtype=torch.long))
    with pytest.raises(ValueError, match="num_classes"):
        model([bad])
    model.eval()
    (r,) = model([{"image": x["image"], "height": 64, "width": 96}])
    assert r["instances"].pred_classes.dtype == torch.long
    assert ((r["instances"].pred_classes >= 0) & (r["instances"].pred_classes < 3)).all()


def test_dnet_as_video_segmenter_proposer(tiny):
    """D-Net in the video loop (uvmos.modeling.meta_arch.VideoSegmenter) on frames of another size."""
    from uvmos.modeling.associators.greedy import GreedyAssociator
    from uvmos.modeling.meta_arch import VideoSegmenter

    tiny.eval()
    tiny.test_size = (64, 96)
    try:
        seg = VideoSegmenter(proposer=tiny, associator=GreedyAssociator()).eval()
        frames = [
            _frame(h=96, w=144, seed=s, boxes=((10, 10, 50, 60),))["image"].permute(1, 2, 0).numpy() for s in range(3)
        ]
        outs = [o for _, o in seg.run_video(frames, {"video_id": "v"})]
        assert [o.frame_idx for o in outs] == [0, 1, 2]
        assert all(o.id_map.shape == (96, 144) for o in outs)
    finally:
        tiny.test_size = None
