"""Re-ID embedders: mask pooling, the metric-learning losses, the trainer wrapper, weight loading."""

import pytest
import torch
from detectron2.structures import BitMasks, Instances

import uvmos  # noqa: F401
from uvmos.modeling.backbone import build_dilated_resnet
from uvmos.modeling.tnet.reid import MaskPooledEmbedder, ReIDHead, mask_pool, reid_losses
from uvmos.modeling.tnet.reid_trainer import ReIDTrainer
from uvmos.registry import META_ARCH_REGISTRY, REID_REGISTRY, build


def test_mask_pool_is_the_masked_mean():
    g = torch.Generator().manual_seed(0)
    f = torch.randn(1, 5, 4, 6, generator=g)
    masks = torch.zeros(3, 8, 12, dtype=torch.bool)
    masks[0, 0:4, 0:4] = True  # feature cells (0:2, 0:2)
    masks[1, 4:8, 6:12] = True  # cells (2:4, 3:6)
    pooled = mask_pool(f, masks)
    assert torch.allclose(pooled[0], f[0, :, 0:2, 0:2].mean(dim=(1, 2)), atol=1e-6)
    assert torch.allclose(pooled[1], f[0, :, 2:4, 3:6].mean(dim=(1, 2)), atol=1e-6)
    assert torch.equal(pooled[2], torch.zeros(5))  # empty mask
    centred = mask_pool(f, masks, center=True)
    assert torch.allclose(centred[0], pooled[0] - f[0].mean(dim=(1, 2)), atol=1e-6)


def test_mask_pooled_embedder():
    g = torch.Generator().manual_seed(1)
    feats = {"a": torch.randn(1, 4, 6, 6, generator=g), "b": torch.randn(1, 3, 3, 3, generator=g)}
    masks = torch.zeros(2, 12, 12, dtype=torch.bool)
    masks[0, 2:8, 2:8] = True
    e = build(REID_REGISTRY, "MaskPooledEmbedder", in_features=("a", "b"))(feats, masks)
    assert e.shape == (2, 7)
    assert torch.isclose(e[0].norm(), torch.tensor(1.0)) and torch.equal(e[1], torch.zeros(7))
    with pytest.raises(KeyError, match="available"):
        MaskPooledEmbedder(("c",))(feats, masks)


def test_losses_prefer_matching_embeddings():
    g = torch.Generator().manual_seed(2)
    e = torch.nn.functional.normalize(torch.randn(4, 8, generator=g), dim=1)
    keys = torch.arange(4)
    for loss in ("infonce", "triplet"):
        good = reid_losses(e, keys, e, keys, loss=loss)
        bad = reid_losses(e, keys, e[[1, 2, 3, 0]], keys, loss=loss)
        assert good < bad, loss
    assert float(reid_losses(e, keys, e, keys + 10)) == 0.0  # no positive pair
    with pytest.raises(ValueError, match="unknown loss"):
        reid_losses(e, keys, e, keys, loss="nope")


def _pair_batch(n=2, H=48, W=64, seed=0):
    """FramePairMapper-like samples: two textured boxes per frame, gt_ids 1 and 2."""
    g = torch.Generator().manual_seed(seed)
    batch = []
    for _ in range(n):
        sample = {}
        for key, inst_key, shift in (("image", "instances", 0), ("prev_image", "prev_instances", 3)):
            img = torch.full((3, H, W), 100, dtype=torch.uint8)
            masks = torch.zeros(2, H, W, dtype=torch.bool)
            masks[0, 5:25, 5 + shift : 25 + shift] = True
            masks[1, 25:45, 35 - shift : 60 - shift] = True
            img[:, masks[0]] = torch.tensor([30, 60, 220], dtype=torch.uint8)[:, None]
            img[:, masks[1]] = (torch.rand(3, int(masks[1].sum()), generator=g) * 255).to(torch.uint8)
            inst = Instances((H, W))
            inst.gt_masks = BitMasks(masks)
            inst.gt_ids = torch.tensor([1, 2])
            sample[key], sample[inst_key] = img, inst
        batch.append(sample)
    return batch


def _trainer():
    torch.manual_seed(0)
    bb = build_dilated_resnet(
        depth=18, norm="FrozenBN", stem_out_channels=8, res2_out_channels=8, res5_dilation=1, out_features=("res3",)
    )
    head = ReIDHead(in_features=("res3",), in_channels=16, hidden_dim=16, embed_dim=8)
    return ReIDTrainer(bb, head, pixel_std=(57.4, 57.1, 58.4))


def test_trainer_trains_the_head_only(tmp_path):
    model = _trainer().train()
    batch = _pair_batch()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    losses = []
    for _ in range(15):
        loss = model(batch)["loss_reid"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0]
    assert all(p.grad is None for p in model.backbone.parameters())
    assert not model.backbone.training  # frozen backbone stays in eval mode

    # the trainer's checkpoint loads into a tracker-side head by suffix matching
    path = tmp_path / "reid.pth"
    torch.save({"model": model.state_dict()}, path)
    head = ReIDHead(in_features=("res3",), in_channels=16, hidden_dim=16, embed_dim=8)
    from uvmos.engine.checkpoint import AtomicCheckpointer

    holder = torch.nn.Module()
    holder.reid = head
    AtomicCheckpointer(holder).load_init({"reid": str(path)})
    for a, b in zip(head.state_dict().values(), model.head.state_dict().values()):
        assert torch.equal(a, b)

    model.eval()
    out = model(batch[:1])
    assert out[0]["embeddings"].shape == (2, 8)


def test_trainer_needs_frame_pairs_and_is_registered():
    model = _trainer().train()
    batch = _pair_batch(1)
    del batch[0]["prev_image"]
    with pytest.raises(KeyError, match="FramePairMapper"):
        model(batch)
    assert META_ARCH_REGISTRY.get("ReIDTrainer") is ReIDTrainer
