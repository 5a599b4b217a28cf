"""Dilated ResNet builders and ImageNet weight loading (Caffe2/MSRA .pkl, detectron2 .pkl, torchvision .pth)."""

import pickle

import numpy as np
import pytest
import torch
import torchvision
from detectron2.config import get_cfg
from detectron2.layers import ShapeSpec
from detectron2.modeling import build_backbone

from uvmos.modeling.backbone import (
    DilatedBasicBlock,
    build_dilated_resnet,
    load_imagenet_weights,
    read_imagenet_state_dict,
)
from uvmos.registry import BACKBONE_REGISTRY, build


@pytest.mark.parametrize("depth", [18, 50])
def test_output_stride_16_and_channels(depth):
    m = build(BACKBONE_REGISTRY, "build_dilated_resnet", depth=depth, norm="BN")
    m.eval()
    out = m(torch.zeros(1, 3, 64, 96))
    shapes = m.output_shape()
    c = {18: (64, 128, 512), 50: (256, 512, 2048)}[depth]
    for (name, stride), ch in zip([("res2", 4), ("res3", 8), ("res5", 16)], c):
        assert shapes[name].stride == stride and shapes[name].channels == ch
        assert tuple(out[name].shape) == (1, ch, 64 // stride, 96 // stride)
    last = m.res5[0]
    conv3x3 = last.conv1 if depth == 18 else last.conv2
    assert conv3x3.dilation == (2, 2) and conv3x3.stride == (1, 1)
    if depth == 18:
        assert isinstance(last, DilatedBasicBlock)


def test_narrow_four_channel_and_undilated():
    m = build_dilated_resnet(depth=18, in_channels=4, norm="BN", stem_out_channels=8, res2_out_channels=8)
    out = m(torch.zeros(2, 4, 64, 64))
    assert out["res5"].shape == (2, 64, 4, 4) and out["res2"].shape == (2, 8, 16, 16)
    m32 = build_dilated_resnet(depth=18, norm="BN", res5_dilation=1, out_features=("res5",))
    assert m32.output_shape()["res5"].stride == 32
    with pytest.raises(ValueError, match="depth"):
        build_dilated_resnet(depth=42)


def test_freeze_at_and_yacs_signature():
    m = build_dilated_resnet(depth=18, norm="BN", freeze_at=2)
    assert not any(p.requires_grad for p in m.stem.parameters())
    assert not any(p.requires_grad for p in m.res2.parameters())
    assert all(p.requires_grad for p in m.res3.parameters())
    cfg = get_cfg()
    cfg.MODEL.BACKBONE.NAME = "build_dilated_resnet"
    cfg.MODEL.RESNETS.DEPTH = 18
    cfg.MODEL.RESNETS.RES2_OUT_CHANNELS = 64
    cfg.MODEL.RESNETS.RES5_DILATION = 2
    cfg.MODEL.RESNETS.NORM = "BN"
    cfg.MODEL.RESNETS.OUT_FEATURES = ["res2", "res3", "res5"]
    m = build_backbone(cfg, ShapeSpec(channels=4))  # detectron2's yacs route
    assert m.stem.conv1.in_channels == 4 and m.output_shape()["res5"].stride == 16


# ---------------------------------------------------------------------------------------------
def _c2_name(d2_key):
    """detectron2 ResNet key -> Caffe2/MSRA blob name (inverse of detectron2's conversion)."""
    if d2_key.startswith("stem.conv1.norm."):
        return "res_conv1_bn_" + {"weight": "s", "bias": "b"}[d2_key.rsplit(".", 1)[1]]
    if d2_key == "stem.conv1.weight":
        return "conv1_w"
    stage, block, rest = d2_key.split(".", 2)
    rest = rest.replace("shortcut", "branch1").replace("conv1", "branch2a").replace("conv2", "branch2b")
    rest = rest.replace("conv3", "branch2c").replace(".norm.weight", "_bn_s").replace(".norm.bias", "_bn_b")
    rest = rest.replace(".weight", "_w")
    return f"{stage}_{block}_{rest}"


def _loaded(path, **kw):
    m = build_dilated_resnet(**kw)
    load_imagenet_weights(m, path)
    return m


@pytest.fixture(scope="module")
def c2_weights():
    """A random R-50 written as Caffe2/MSRA blobs (affine-only norms, an fc1000 classifier)."""
    torch.manual_seed(0)
    src = build_dilated_resnet(depth=50, norm="FrozenBN", res5_dilation=1)
    blobs = {}
    for k, v in src.state_dict().items():
        if k.endswith(("running_mean", "running_var")):
            continue
        v = torch.randn_like(v) if k.endswith("norm.weight") else v  # distinguishable values
        blobs[_c2_name(k)] = v.numpy().copy()
    blobs["fc1000_w"] = np.zeros((1000, 2048), dtype=np.float32)
    return blobs


@pytest.mark.parametrize("wrapped", [False, True])
def test_load_caffe2_pkl(tmp_path, c2_weights, wrapped):
    path = tmp_path / "R-50.pkl"
    data = {"model": c2_weights, "__author__": "Caffe2", "matching_heuristics": True} if wrapped else c2_weights
    with open(path, "wb") as f:
        pickle.dump(data, f)
    m = _loaded(str(path), depth=50, norm="FrozenBN")
    sd = m.state_dict()
    for c2, d2 in [
        ("conv1_w", "stem.conv1.weight"),
        ("res_conv1_bn_s", "stem.conv1.norm.weight"),
        ("res3_0_branch2a_w", "res3.0.conv1.weight"),
        ("res4_5_branch2c_bn_b", "res4.5.conv3.norm.bias"),
        ("res5_0_branch1_w", "res5.0.shortcut.weight"),
        ("res2_2_branch2b_bn_s", "res2.2.conv2.norm.weight"),
    ]:
        assert torch.equal(sd[d2], torch.as_tensor(c2_weights[c2])), d2
    # affine-only Caffe2 norms: running statistics stay at their neutral defaults
    assert torch.all(sd["res3.0.conv1.norm.running_mean"] == 0)
    sd_loaded, layout = read_imagenet_state_dict(str(path))
    assert layout == "caffe2" and "res5.2.conv3.weight" in sd_loaded


def test_load_caffe2_into_four_channel_stem(tmp_path, c2_weights):
    path = tmp_path / "R-50.pkl"
    with open(path, "wb") as f:
        pickle.dump(c2_weights, f)
    rgb = torch.as_tensor(c2_weights["conv1_w"])
    for how, expected in [("mean", rgb.mean(dim=1, keepdim=True)), ("zero", torch.zeros_like(rgb[:, :1]))]:
        m = build_dilated_resnet(depth=50, in_channels=4, norm="FrozenBN", out_features=("res5",))
        load_imagenet_weights(m, str(path), extra_channel_init=how)
        w = m.stem.conv1.weight
        assert w.shape[1] == 4
        assert torch.equal(w[:, :3], rgb)
        assert torch.allclose(w[:, 3:], expected)
        assert torch.equal(m.res5[2].conv3.weight, torch.as_tensor(c2_weights["res5_2_branch2c_w"]))


@pytest.fixture(scope="module")
def torchvision_r50(tmp_path_factory):
    torch.manual_seed(1)
    net = torchvision.models.resnet50(weights=None)
    for mod in net.modules():  # non-trivial statistics so a wrong mapping shows
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-1, 1)
            mod.running_var.uniform_(0.5, 2)
    path = tmp_path_factory.mktemp("tv") / "resnet50.pth"
    torch.save(net.state_dict(), path)
    return net.state_dict(), str(path)


def test_load_torchvision_pth(torchvision_r50):
    tv, path = torchvision_r50
    m = _loaded(path, depth=50, norm="BN", stride_in_1x1=False)
    sd = m.state_dict()
    for t, d in [
        ("conv1.weight", "stem.conv1.weight"),
        ("bn1.running_var", "stem.conv1.norm.running_var"),
        ("layer1.0.conv1.weight", "res2.0.conv1.weight"),
        ("layer2.3.bn3.weight", "res3.3.conv3.norm.weight"),
        ("layer3.0.downsample.0.weight", "res4.0.shortcut.weight"),
        ("layer4.0.downsample.1.running_mean", "res5.0.shortcut.norm.running_mean"),
        ("layer4.2.bn2.bias", "res5.2.conv2.norm.bias"),
    ]:
        assert torch.equal(sd[d], tv[t]), d
    # same function as torchvision's network where the architectures agree (res5 undilated)
    m32 = _loaded(path, depth=50, norm="BN", stride_in_1x1=False, res5_dilation=1).eval()
    net = torchvision.models.resnet50(weights=None)
    net.load_state_dict(tv)
    net.eval()
    x = torch.randn(1, 3, 64, 64)
    ref = net.layer4(net.layer3(net.layer2(net.layer1(net.maxpool(net.relu(net.bn1(net.conv1(x))))))))
    assert torch.allclose(m32(x)["res5"], ref, atol=1e-4)


def test_load_torchvision_four_channel_and_errors(torchvision_r50, tmp_path):
    tv, path = torchvision_r50
    m = _loaded(path, depth=50, in_channels=4, norm="BN", stride_in_1x1=False)
    assert torch.equal(m.stem.conv1.weight[:, :3], tv["conv1.weight"])
    assert torch.allclose(m.stem.conv1.weight[:, 3], tv["conv1.weight"].mean(dim=1))
    with pytest.raises(ValueError, match="do not fit"):
        _loaded(path, depth=50, norm="BN", width_per_group=16)
    bad = tmp_path / "bad.pth"
    torch.save({"foo": torch.zeros(1)}, bad)
    with pytest.raises(ValueError, match="bad.pth"):
        load_imagenet_weights(build_dilated_resnet(depth=18, norm="BN"), str(bad))
    with pytest.raises(FileNotFoundError, match="missing.pkl"):
        _loaded(str(tmp_path / "missing.pkl"), depth=18)


def test_resnet18_torchvision_into_dilated_basic_blocks(tmp_path):
    net = torchvision.models.resnet18(weights=None)
    path = tmp_path / "r18.pth"
    torch.save(net.state_dict(), path)
    m = _loaded(str(path), depth=18, norm="BN")
    assert torch.equal(m.res5[1].conv2.weight, net.layer4[1].conv2.weight)
    assert torch.equal(m.res3[0].shortcut.norm.weight, net.layer2[0].downsample[1].weight)


def test_checkpointer_loads_imagenet_into_every_resnet(tmp_path):
    """train.init_checkpoint = an ImageNet file: the checkpointer puts it into D-Net's backbone and
    the SGM's 4-channel stem (RGB + mean), and parts left random are refused at inference."""
    from torch import nn

    from uvmos.engine.checkpoint import AtomicCheckpointer, CheckpointError, load_inference_weights

    net = torchvision.models.resnet18(weights=None)
    path = tmp_path / "r18.pth"
    torch.save(net.state_dict(), path)

    class TwoBranch(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = build_dilated_resnet(depth=18, norm="BN")
            self.sgm_backbone = build_dilated_resnet(depth=18, in_channels=4, norm="BN", out_features=("res5",))
            self.head = nn.Linear(4, 2)

    model = TwoBranch()
    loaded = AtomicCheckpointer(model).load_init(str(path))
    assert torch.equal(model.backbone.res5[1].conv2.weight, net.layer4[1].conv2.weight)
    assert torch.equal(model.sgm_backbone.stem.conv1.weight[:, :3], net.conv1.weight)
    assert torch.allclose(model.sgm_backbone.stem.conv1.weight[:, 3], net.conv1.weight.mean(dim=1))
    assert "sgm_backbone.res4.0.conv1.weight" in loaded and "head.weight" not in loaded
    with pytest.raises(CheckpointError, match=r"2 of .* parameters would be random \(head\)"):
        load_inference_weights(TwoBranch(), str(path))
    # parts: {submodule: file}; the head from a larger model's checkpoint, by key suffix
    head_ckpt = tmp_path / "big.pth"
    torch.save({"model": {"something.head.weight": torch.ones(2, 4), "something.head.bias": torch.zeros(2)}}, head_ckpt)
    fresh = TwoBranch()
    assert load_inference_weights(fresh, {"backbone": str(path), "sgm_backbone": str(path), "head": str(head_ckpt)})
    assert torch.equal(fresh.head.weight, torch.ones(2, 4))
    with pytest.raises(CheckpointError, match="no submodule 'nope'"):
        AtomicCheckpointer(TwoBranch()).load_init({"nope": str(path)})
