"""projects/SOLO: SOLOv2 target assignment, Matrix NMS (against a brute-force loop), a tiny model's
training and inference passes, and its registration as a proposer."""

import numpy as np
import pytest
import torch
from detectron2.config import LazyCall as L
from detectron2.config import instantiate
from detectron2.modeling.backbone.fpn import FPN, LastLevelMaxPool
from detectron2.structures import BitMasks, Instances

from uvmos.modeling.backbone import build_dilated_resnet
from uvmos.projects.SOLO.solo import SOLOProposer, SOLOv2, SOLOv2InsHead, SOLOv2MaskHead, matrix_nms, solo_targets
from uvmos.registry import PROPOSER_REGISTRY


def _square(h, w, y0, y1, x0, x1):
    m = torch.zeros(h, w, dtype=torch.bool)
    m[y0:y1, x0:x1] = True
    return m


# ---------------------------------------------------------------------------------------------
# target assignment
# ---------------------------------------------------------------------------------------------
def test_center_region_cells():
    # 16 x 16 square, rows 16..31, cols 32..47 of a 64 x 64 image; S = 8 (cells of 8 px).
    # center of mass (24, 40) in pixel-center coordinates -> cell (3, 5); center region
    # 0.2 * 16 = 3.2 px wide: y in [22.4, 25.6] -> rows 2..3, x in [38.4, 41.6] -> cols 4..5
    m = _square(64, 64, 16, 32, 32, 48)[None]
    ((cate, ins),) = solo_targets(m, torch.tensor([0]), (64, 64), [8], [(1, 1000)], sigma=0.2, num_classes=1)
    expected = torch.zeros(8, 8, dtype=torch.bool)
    expected[2:4, 4:6] = True
    assert torch.equal(ins >= 0, expected)
    assert torch.equal(cate == 0, expected)
    assert (cate[~expected] == 1).all()  # background = num_classes


def test_center_region_clipped_to_one_cell_around_center():
    # a large object (sigma region much wider than a cell): at most the 3 x 3 cells around the center
    m = _square(64, 64, 0, 64, 0, 64)[None]
    ((cate, ins),) = solo_targets(m, torch.tensor([0]), (64, 64), [16], [(1, 1000)], sigma=0.5)
    rows, cols = torch.nonzero(ins >= 0, as_tuple=True)
    assert rows.min() == 7 and rows.max() == 9 and cols.min() == 7 and cols.max() == 9


def test_scale_ranges_pick_levels_and_overlap():
    small = _square(64, 64, 4, 13, 4, 13)  # 9 x 9: scale 9
    big = _square(64, 64, 20, 60, 20, 60)  # 40 x 40: scale 40
    ranges = [(1, 10), (8, 32), (30, 100)]
    levels = solo_targets(torch.stack([small, big]), torch.tensor([0, 0]), (64, 64), [8, 8, 8], ranges)
    owners = [set(ins[ins >= 0].tolist()) for _, ins in levels]
    assert owners == [{0}, {0}, {1}]  # 9 is in [1, 10] and [8, 32]; 40 only in [30, 100]


def test_smaller_instance_keeps_a_contested_cell():
    big = _square(64, 64, 0, 64, 0, 64)
    small = _square(64, 64, 28, 36, 28, 36)  # same center (32, 32)
    # S = 16: the big one's region is cells 7..9 (clipped around the center cell 8), the small one's 7..8
    ((cate, ins),) = solo_targets(torch.stack([small, big]), torch.tensor([0, 0]), (64, 64), [16], [(1, 1000)])
    assert (ins[7:9, 7:9] == 0).all()  # the center cells go to the small object
    assert (ins == 1).any()  # the big one keeps the cells the small one does not claim


def test_class_targets_and_empty_image():
    m = _square(32, 32, 8, 24, 8, 24)[None]
    ((cate, ins),) = solo_targets(m, torch.tensor([2]), (32, 32), [4], [(1, 100)], num_classes=3)
    assert set(cate.unique().tolist()) == {2, 3}
    ((cate, ins),) = solo_targets(
        torch.zeros(0, 32, 32, dtype=torch.bool),
        torch.zeros(0, dtype=torch.long),
        (32, 32),
        [4],
        [(1, 100)],
        num_classes=3,
    )
    assert (cate == 3).all() and (ins == -1).all()


# ---------------------------------------------------------------------------------------------
# Matrix NMS
# ---------------------------------------------------------------------------------------------
def _brute_force_matrix_nms(masks, labels, scores, kernel, sigma):
    """SOLOv2 eq. (decay_j = min_i f(iou_ij) / f(max_k iou_ki)), one pair at a time."""
    n = len(scores)
    m = masks.reshape(n, -1).double()

    def iou(i, j):
        inter = float((m[i] * m[j]).sum())
        return inter / float(m[i].sum() + m[j].sum() - inter)

    f = (lambda x: np.exp(-sigma * x * x)) if kernel == "gaussian" else (lambda x: 1 - x)
    comp = [max([iou(k, i) for k in range(i) if labels[k] == labels[i]], default=0.0) for i in range(n)]
    out = []
    for j in range(n):
        d = 1.0
        for i in range(j):
            if labels[i] == labels[j]:
                d = min(d, f(iou(i, j)) / f(comp[i]))
        out.append(float(scores[j]) * d)
    return torch.tensor(out, dtype=torch.float64)


@pytest.mark.parametrize("kernel", ["gaussian", "linear"])
def test_matrix_nms_matches_brute_force(kernel):
    g = torch.Generator().manual_seed(0)
    n, H, W = 12, 24, 24
    masks = torch.zeros(n, H, W, dtype=torch.bool)
    for i in range(n):  # overlapping random boxes, so IoUs are spread over (0, 1)
        y0, x0 = torch.randint(0, 12, (2,), generator=g).tolist()
        h, w = torch.randint(6, 12, (2,), generator=g).tolist()
        masks[i, y0 : y0 + h, x0 : x0 + w] = True
    labels = torch.randint(0, 2, (n,), generator=g)
    scores = torch.rand(n, generator=g).sort(descending=True).values
    got = matrix_nms(masks, labels, scores, kernel=kernel, sigma=2.0)
    want = _brute_force_matrix_nms(masks, labels, scores, kernel, 2.0)
    assert torch.allclose(got.double(), want, atol=1e-5)
    assert (got <= scores + 1e-6).all()
    assert got[0] == scores[0]  # the top mask is never decayed


def test_matrix_nms_duplicate_suppressed_other_class_untouched():
    a = _square(16, 16, 0, 8, 0, 8)
    masks = torch.stack([a, a, a])
    scores = torch.tensor([0.9, 0.8, 0.7])
    got = matrix_nms(masks, torch.tensor([0, 0, 1]), scores, kernel="linear")
    assert torch.allclose(got, torch.tensor([0.9, 0.0, 0.7]))


def test_matrix_nms_rejects_unsorted():
    with pytest.raises(ValueError, match="descending"):
        matrix_nms(torch.ones(2, 4, 4), torch.zeros(2, dtype=torch.long), torch.tensor([0.1, 0.9]))


# ---------------------------------------------------------------------------------------------
# model
# ---------------------------------------------------------------------------------------------
def _tiny_solo():
    cfg = L(SOLOv2)(
        backbone=L(FPN)(
            bottom_up=L(build_dilated_resnet)(
                depth=18,
                norm="BN",
                stem_out_channels=8,
                res2_out_channels=8,
                res5_dilation=1,
                out_features=("res2", "res3", "res4", "res5"),
            ),
            in_features=("res2", "res3", "res4", "res5"),
            out_channels=16,
            top_block=L(LastLevelMaxPool)(),
        ),
        ins_head=L(SOLOv2InsHead)(in_channels=16, channels=32, num_convs=1, kernel_dim=32, num_classes=1),
        mask_head=L(SOLOv2MaskHead)(in_channels=16, channels=32, out_channels=32),  # GN: 32 groups
        num_grids=(12, 10, 8, 6, 4),
        scale_ranges=((1, 16), (8, 32), (16, 64), (32, 128), (64, 1000)),
        min_mask_area=(1, 1, 1, 1, 1),
        score_thresh=0.0,
        mask_thresh=0.3,
        update_thresh=0.0,  # an untrained model still gives masks
    )
    torch.manual_seed(0)
    return instantiate(cfg)


def test_solov2_train_step_and_inference():
    model = _tiny_solo()
    inst = Instances((64, 96))
    inst.gt_masks = BitMasks(torch.stack([_square(64, 96, 10, 40, 10, 50), _square(64, 96, 30, 60, 60, 90)]))
    inst.gt_classes = torch.zeros(2, dtype=torch.long)
    batch = [{"image": torch.randint(0, 255, (3, 64, 96), dtype=torch.uint8), "instances": inst}]
    model.train()
    losses = model(batch)
    assert set(losses) == {"loss_ins", "loss_cate"}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    sum(losses.values()).backward()
    assert model.ins_head.kernel_pred.weight.grad.abs().sum() > 0
    assert model.mask_head.pred[0].weight.grad.abs().sum() > 0

    model.eval()
    with torch.no_grad():
        out = model([{"image": batch[0]["image"], "height": 128, "width": 192}])[0]["instances"]
    assert out.image_size == (128, 192)
    assert out.pred_masks.shape[1:] == (128, 192) and out.pred_masks.dtype == torch.bool
    assert len(out) > 0 and (out.scores[:-1] >= out.scores[1:]).all()


def test_solo_proposer_registered_and_interface():
    assert PROPOSER_REGISTRY.get("SOLOProposer") is SOLOProposer
    prop = SOLOProposer(_tiny_solo(), score_thresh=0.0, max_proposals=5)
    out = prop([{"image": torch.randint(0, 255, (3, 64, 96), dtype=torch.uint8), "height": 64, "width": 96}])[0]
    inst = out["instances"]
    assert len(inst) <= 5 and inst.pred_masks.shape[1:] == (64, 96)
    assert (inst.pred_classes == 0).all()
    assert "p2" in out["features"]
