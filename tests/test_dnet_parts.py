"""D-Net parts: ASPP neck, SGM fusion (eq. 3-7), heads, target generator, losses, post-processing."""

import pytest
import torch
from detectron2.config import LazyCall as L
from detectron2.config import instantiate
from detectron2.structures import BitMasks, Instances

from uvmos.modeling.dnet import (
    ASPPNeck,
    DNetPostProcessor,
    DNetTargetGenerator,
    GuidancePerturbation,
    InstanceHead,
    SalientHead,
    SEGuidanceFusion,
    center_loss,
    find_instance_centers,
    group_pixels,
    make_guidance_input,
    offset_loss,
    salient_loss,
)
from uvmos.registry import DNET_HEAD_REGISTRY, GUIDANCE_REGISTRY, NECK_REGISTRY, build


def _feats(n=2, h=64, w=96):
    return {
        "res2": torch.randn(n, 8, h // 4, w // 4),
        "res3": torch.randn(n, 16, h // 8, w // 8),
        "res5": torch.randn(n, 32, h // 16, w // 16),
    }


def test_aspp_neck_by_name_and_lazycall():
    f = _feats()
    for neck in [
        build(NECK_REGISTRY, "ASPPNeck", in_channels=32, out_channels=24),
        instantiate(L(ASPPNeck)(in_channels=32, out_channels=24, dilations=(6, 12, 18))),
    ]:
        neck.eval()
        assert neck(f).shape == (2, 24, 4, 6)
        assert len(neck.aspp.convs) == 5  # 1x1, three atrous 3x3, image pooling
        assert [c.dilation[0] for c in list(neck.aspp.convs)[1:4]] == [6, 12, 18]
    with pytest.raises(ValueError, match="channels"):
        neck({"res5": torch.zeros(1, 16, 4, 4)})


@pytest.mark.parametrize("descriptors", ["task_guide", "sal_ins"])
def test_sgm_alpha_plus_beta_is_one(descriptors):
    torch.manual_seed(0)
    fuse = build(GUIDANCE_REGISTRY, "SEGuidanceFusion", channels=16, reduction=4, descriptors=descriptors)
    x, g, o = torch.randn(3, 16, 5, 7), torch.randn(3, 16, 5, 7), torch.randn(3, 16, 5, 7)
    alpha, beta = fuse.attention(x, g, o)
    assert alpha.shape == beta.shape == (3, 16)
    assert torch.allclose(alpha + beta, torch.ones(3, 16), atol=1e-6)
    assert ((alpha > 0) & (alpha < 1)).all()
    out = fuse(x, g, o)
    assert torch.allclose(out, alpha[..., None, None] * x + beta[..., None, None] * g, atol=1e-6)
    # the gate depends on exactly the descriptors the option names
    a2, _ = fuse.attention(x, g * 3 + 1, o)
    a3, _ = fuse.attention(x, g, o * 3 + 1)
    changed_by_guide = not torch.allclose(a2, alpha)
    changed_by_other = not torch.allclose(a3, alpha)
    assert (changed_by_guide, changed_by_other) == ((True, False) if descriptors == "task_guide" else (False, True))


def test_sgm_sal_ins_needs_other_and_guidance_input():
    with pytest.raises(ValueError, match="x_other"):
        SEGuidanceFusion(8, descriptors="sal_ins")(torch.zeros(1, 8, 2, 2), torch.zeros(1, 8, 2, 2))
    img = torch.zeros(2, 3, 8, 8)
    mask = torch.zeros(2, 1, 8, 8)
    mask[:, :, :4] = 1
    g = make_guidance_input(img, mask, mask_std=58.0)
    assert g.shape == (2, 4, 8, 8)
    assert torch.allclose(g[:, 3, :4], torch.full((2, 4, 8), 127.5 / 58.0))
    assert torch.allclose(g[:, 3, 4:], torch.full((2, 4, 8), -127.5 / 58.0))


def test_heads_shapes_and_registry():
    f = _feats()
    kw = dict(in_channels=24, res3_channels=16, res2_channels=8, decoder_channels=12, norm="BN")
    sal = build(DNET_HEAD_REGISTRY, "SalientHead", num_classes=3, **kw)
    ins = instantiate(L(InstanceHead)(low_level_channels=(6, 4), **kw))
    x = torch.randn(2, 24, 4, 6)
    assert sal(x, f).shape == (2, 3, 16, 24)
    c, o = ins(x, f)
    assert c.shape == (2, 1, 16, 24) and o.shape == (2, 2, 16, 24)
    convs = [sal.decoder.conv3, sal.decoder.conv2a, sal.decoder.conv2b]
    assert [m.kernel_size for m in convs] == [(5, 5)] * 3 and sal.predictor.kernel_size == (1, 1)
    assert sal.decoder.conv3.in_channels == 24 + 16 and sal.decoder.conv2a.in_channels == 12 + 8  # raw concat
    with pytest.raises(ValueError):
        SalientHead(num_classes=1, **kw)


def _two_squares(h=64, w=80):
    masks = torch.zeros(2, h, w, dtype=torch.bool)
    masks[0, 5:25, 10:30] = True  # centre (14.5, 19.5) -> rounded (14, 20)
    masks[1, 40:60, 50:76] = True  # centre (49.5, 62.5) -> (50, 62)
    inst = Instances((h, w))
    inst.gt_masks = BitMasks(masks)
    inst.gt_classes = torch.tensor([0, 1])
    return inst, masks


def test_target_generator_gaussian_and_offsets():
    inst, masks = _two_squares()
    sem = torch.zeros(64, 80, dtype=torch.long)
    sem[:, 78:] = 255
    t = DNetTargetGenerator(sigma=4.0)(inst, sem)
    pts = t["center_points"]
    assert pts.tolist() == [
        [torch.round(torch.tensor(14.5)).item(), torch.round(torch.tensor(19.5)).item()],
        [torch.round(torch.tensor(49.5)).item(), torch.round(torch.tensor(62.5)).item()],
    ]
    for cy, cx in pts.long().tolist():
        assert t["center"][0, cy, cx] == 1.0
        patch = t["center"][0, cy - 3 : cy + 4, cx - 3 : cx + 4]
        assert patch.max() == 1.0 and patch.argmax() == 3 * 7 + 3  # peak exactly at the centre
        assert abs(float(t["center"][0, cy, cx + 4]) - float(torch.exp(torch.tensor(-0.5)))) < 1e-5  # sigma
    ys, xs = torch.meshgrid(torch.arange(64.0), torch.arange(80.0), indexing="ij")
    for k, m in enumerate(masks):
        cy, cx = pts[k]
        assert torch.allclose(ys[m] + t["offset"][0][m], torch.full_like(ys[m], cy))
        assert torch.allclose(xs[m] + t["offset"][1][m], torch.full_like(xs[m], cx))
    fg = masks.any(0)
    assert torch.equal(t["offset_weights"][0].bool(), fg)
    assert (t["offset"][:, ~fg] == 0).all()
    assert (t["center_weights"][0, :, 78:] == 0).all() and (t["center_weights"][0, :, :78] == 1).all()
    # the mapper calls it with the whole dict and keeps the returned dict
    d = {"instances": inst, "sem_seg": sem, "image": torch.zeros(3, 64, 80)}
    out = DNetTargetGenerator(sigma=4.0)(d)
    assert set(d) < set(out) and torch.equal(out["center"], t["center"])


def test_losses_ignore_and_weights():
    logits = torch.randn(1, 2, 4, 4, requires_grad=True)
    target = torch.full((1, 4, 4), 255, dtype=torch.long)
    assert salient_loss(logits, target) == 0
    target[0, 0, 0] = 1
    ref = torch.nn.functional.cross_entropy(logits[:, :, 0, 0], torch.tensor([1]))
    assert torch.allclose(salient_loss(logits, target), ref)
    pred, tgt = torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 2, 2)
    w = torch.tensor([[[[1.0, 0.0], [0.0, 0.0]]]])
    assert center_loss(pred, tgt, w) == 1.0
    off = torch.zeros(1, 2, 2, 2)
    off_t = torch.zeros(1, 2, 2, 2)
    off_t[0, :, 0, 0] = torch.tensor([3.0, -4.0])
    off_t[0, :, 1, 1] = 100.0  # background pixel: not counted
    assert offset_loss(off, off_t, w) == 7.0
    assert offset_loss(off, off_t, torch.zeros_like(w)) == 0


def test_post_processing_recovers_two_instances():
    inst, masks = _two_squares()
    t = DNetTargetGenerator(sigma=4.0)(inst)
    # synthetic head outputs: K+1 = 3 classes (background, cat 0, cat 1), perfect center/offsets
    logits = torch.full((3, 64, 80), -5.0)
    logits[0] = 5.0
    logits[1][masks[0]] = 10.0
    logits[2][masks[1]] = 10.0
    ys, xs = torch.meshgrid(torch.arange(64.0), torch.arange(80.0), indexing="ij")
    g = [torch.exp(-((ys - cy) ** 2 + (xs - cx) ** 2) / 32.0) for cy, cx in t["center_points"].tolist()]
    center = torch.maximum(0.9 * g[0], 0.6 * g[1])[None]
    torch.manual_seed(0)
    offset = t["offset"] + 0.3 * torch.randn(2, 64, 80)  # noisy votes still land nearest their centre
    pp = DNetPostProcessor(center_threshold=0.1, nms_kernel=7, top_k=10, min_area=4)
    r = pp(logits, center, offset, (128, 160))  # output at 2x the network resolution
    res = r["instances"]
    assert len(res) == 2 and res.image_size == (128, 160)
    up = torch.nn.functional.interpolate(masks[None].float(), size=(128, 160), mode="nearest")[0].bool()
    assert torch.equal(res.pred_masks[0], up[0]) and torch.equal(res.pred_masks[1], up[1])
    assert res.scores[0] > res.scores[1] > 0.5  # 0.9 x ~1 and 0.6 x ~1, sorted
    assert res.pred_classes.tolist() == [0, 1]
    fgp = r["foreground"]
    assert fgp.shape == (128, 160) and fgp[up.any(0)].mean() > 0.95 and fgp[0, :].max() < 0.01
    # class-agnostic and tiny-instance filtering
    r2 = DNetPostProcessor(min_area=2000)(logits[:2], center, offset, (64, 80))
    assert len(r2["instances"]) == 0


def test_centers_nms_topk_and_grouping():
    hm = torch.zeros(1, 20, 20)
    hm[0, 5, 5], hm[0, 6, 6], hm[0, 15, 15], hm[0, 2, 17] = 0.9, 0.8, 0.5, 0.05
    c, s = find_instance_centers(hm, threshold=0.1, nms_kernel=3, top_k=5)
    assert c.tolist() == [[5, 5], [15, 15]] and torch.allclose(s, torch.tensor([0.9, 0.5]))
    c1, _ = find_instance_centers(hm, threshold=0.1, nms_kernel=3, top_k=1)
    assert c1.tolist() == [[5, 5]]
    fg = torch.zeros(20, 20, dtype=torch.bool)
    fg[0:10, 0:10] = fg[12:20, 12:20] = True
    ids = group_pixels(c, torch.zeros(2, 20, 20), fg, chunk=7)
    assert (ids[0:10, 0:10] == 1).all() and (ids[12:20, 12:20] == 2).all() and (ids[~fg] == 0).all()


def test_guidance_perturbation_shapes_and_determinism():
    _, masks = _two_squares()
    clean = GuidancePerturbation(p_drop_instance=0, p_morph=0, p_empty=0)(masks)
    assert torch.equal(clean[0].bool(), masks.any(0))
    torch.manual_seed(3)
    a = [GuidancePerturbation()(masks) for _ in range(20)]
    torch.manual_seed(3)
    b = [GuidancePerturbation()(masks) for _ in range(20)]
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert any(not torch.equal(x, clean) for x in a)
    assert all(x.shape == (1, 64, 80) and set(x.unique().tolist()) <= {0.0, 1.0} for x in a)
    assert GuidancePerturbation(p_empty=1.0)(masks).sum() == 0
    grown = GuidancePerturbation(p_drop_instance=0, p_morph=1.0, max_kernel=3, p_empty=0)
    assert grown(masks).sum() != clean.sum()
    assert GuidancePerturbation()(torch.zeros(0, 8, 8, dtype=torch.bool)).shape == (1, 8, 8)
