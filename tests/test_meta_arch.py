"""VideoSegmenter: streaming loop, proposer/associator swaps by config, dataset inference."""

import json
import os

import cv2
import numpy as np
import pytest
import torch
from detectron2.config import LazyCall as L
from detectron2.config import LazyConfig, instantiate
from detectron2.data import DatasetCatalog
from tnet_stream import gt_id_maps, shapes_stream, tiny_backbone_features

import uvmos  # noqa: F401
from uvmos.data.io import read_id_map
from uvmos.engine.video_inference import run_on_dataset
from uvmos.evaluation.davis import evaluate_davis
from uvmos.evaluation.davis_io import output_id_maps
from uvmos.evaluation.timing import PartTimer
from uvmos.modeling.associators import GreedyAssociator
from uvmos.modeling.meta_arch import VideoSegmenter
from uvmos.modeling.proposers import MaskRCNNProposer, OracleProposer
from uvmos.modeling.proposers.maskrcnn import mask_rcnn_fpn_config
from uvmos.modeling.tnet import MaskPooledEmbedder, ProposerFeatures
from uvmos.registry import META_ARCH_REGISTRY, build

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
H, W = 64, 96


class Recorder(torch.nn.Module):
    """Wraps a proposer and records what the meta-arch feeds it."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.seen = []

    def forward(self, batched_inputs):
        self.seen.append({k: v for k, v in batched_inputs[0].items()})
        return self.inner(batched_inputs)


def test_streaming_loop_feeds_previous_frame_and_mask():
    frames, video = shapes_stream(length=4)
    prop = Recorder(OracleProposer(videos=[video]))
    prop.test_size = (32, 48)  # the proposer owns its input size
    model = VideoSegmenter(prop, GreedyAssociator(min_area=4))
    outs = [o for _, o in model.run_video(iter(frames), video)]
    assert [o.frame_idx for o in outs] == [0, 1, 2, 3]
    assert "prev_image" not in prop.seen[0] and "prev_mask" not in prop.seen[0]
    for t in range(1, 4):
        x = prop.seen[t]
        assert x["image"].shape == (3, 32, 48) and x["image"].dtype == torch.uint8
        assert (x["height"], x["width"], x["video_id"], x["frame_idx"]) == (H, W, video["video_id"], t)
        assert torch.equal(x["prev_image"], prop.seen[t - 1]["image"])
        fg = cv2.resize((outs[t - 1].id_map > 0).astype(np.uint8), (48, 32), interpolation=cv2.INTER_NEAREST)
        assert x["prev_mask"].shape == (1, 32, 48) and torch.equal(x["prev_mask"][0], torch.from_numpy(fg).float())
    for o in outs:
        assert o.id_map.dtype == np.int32 and o.id_map.shape == (H, W)
    with pytest.raises(ValueError, match="uint8"):
        list(model.run_video([frames[0].astype(np.float32)], video))


def _tiny_dnet_cfg():
    cfg = LazyConfig.load(os.path.join(REPO, "configs/common/models/dnet.py")).model
    for bb in (cfg.backbone, cfg.sgm_backbone):
        bb.update(depth=18, norm="BN", stem_out_channels=8, res2_out_channels=8)
    for neck in (cfg.sal_neck, cfg.ins_neck, cfg.sgm_neck):
        neck.update(in_channels=64, out_channels=16, norm="BN")
    for head in (cfg.sal_head, cfg.ins_head):
        head.update(res3_channels=16, res2_channels=8, decoder_channels=16, norm="BN")
    cfg.sal_fusion.reduction = cfg.ins_fusion.reduction = 4
    cfg.test_size = (H, W)
    return cfg


def _tiny_maskrcnn_cfg():
    m = mask_rcnn_fpn_config(num_classes=1, depth=18)
    m.roi_heads.box_predictor.test_score_thresh = 0.0
    m.roi_heads.box_predictor.test_topk_per_image = 5
    m.proposal_generator.pre_nms_topk = (200, 200)
    m.proposal_generator.post_nms_topk = (50, 50)
    return L(MaskRCNNProposer)(model=m, score_thresh=0.0, max_proposals=5)


@pytest.mark.parametrize("proposer", ["oracle", "maskrcnn", "dnet"])
@pytest.mark.parametrize("associator", ["greedy", "tnet"])
def test_proposer_and_associator_swap_by_config(proposer, associator):
    frames, video = shapes_stream(length=8)
    frames = frames[:2]
    cfg = LazyConfig.load(os.path.join(REPO, "configs/common/models/video.py"))
    model_cfg = cfg.model
    model_cfg.proposer = {
        "oracle": L(OracleProposer)(videos=[video]),
        "maskrcnn": _tiny_maskrcnn_cfg(),
        "dnet": _tiny_dnet_cfg(),
    }[proposer]
    if associator == "greedy":
        model_cfg.associator = L(GreedyAssociator)(min_area=4, proposal_score_thresh=0.0)
    elif proposer == "oracle":  # no proposer features: T-Net brings its backbone
        model_cfg.associator.features = L(tiny_backbone_features)()
        model_cfg.associator.target_feature = "res3"
        model_cfg.associator.reid = L(MaskPooledEmbedder)(in_features=("res3",))
    else:  # T-Net on the proposer's own maps
        key = "p3" if proposer == "maskrcnn" else "res3"
        model_cfg.associator.features = L(ProposerFeatures)(keys=(key,))
        model_cfg.associator.target_feature = key
        model_cfg.associator.reid = L(MaskPooledEmbedder)(in_features=(key,))
    torch.manual_seed(0)
    model = instantiate(model_cfg).eval()
    assert (
        type(model.proposer).__name__
        == {"oracle": "OracleProposer", "maskrcnn": "MaskRCNNProposer", "dnet": "DNet"}[proposer]
    )
    assert type(model.associator).__name__ == {"greedy": "GreedyAssociator", "tnet": "TNetTracker"}[associator]
    outs = [o for _, o in model.run_video(frames, video)]
    assert len(outs) == 2
    for o in outs:
        ids = set(np.unique(o.id_map).tolist()) - {0}
        assert o.id_map.shape == (H, W) and ids == set(o.track_scores)
    if proposer == "oracle":  # perfect proposals: both objects found and kept
        assert [sorted(o.track_scores) for o in outs] == [[1, 2], [1, 2]]


def _frames_on_disk(tmp_path, frames):
    """Write frames as lossless PNGs (so an oracle and the frames agree) -> their paths."""
    fdir = tmp_path / "frames"
    fdir.mkdir()
    names = []
    for t, f in enumerate(frames):
        names.append(str(fdir / f"{t:05d}.png"))
        cv2.imwrite(names[-1], f)
    return names


def test_forward_on_video_dicts_and_resumable_dataset_inference(tmp_path):
    frames, video = shapes_stream(length=5)
    video = dict(video, file_names=_frames_on_disk(tmp_path, frames))
    name = "uvmos_test_meta_arch_video"
    if name in DatasetCatalog.list():
        DatasetCatalog.remove(name)
    DatasetCatalog.register(name, lambda: [video])

    timer = PartTimer()
    model = build(
        META_ARCH_REGISTRY,
        "VideoSegmenter",
        OracleProposer(videos=[video]),
        GreedyAssociator(min_area=4),
        timer=timer,
    )
    model.eval()
    out = model([video])[0]
    assert out["video_id"] == video["video_id"] and out["length"] == 5
    maps = output_id_maps(out, H, W)  # the DAVIS evaluator's reader
    assert np.array_equal(np.stack(maps), gt_id_maps(video))
    per_part, fps = timer.summary()
    assert set(per_part) == {"proposal", "association"} and timer.num_frames == 5 and fps > 0

    res_dir = tmp_path / "results"
    os.makedirs(res_dir / ".tmp-stale-run")  # leftovers of an interrupted run
    paths = run_on_dataset(model, name, str(res_dir))
    folder = paths[video["video_id"]]
    assert sorted(os.listdir(folder)) == [f"{t:05d}.png" for t in range(5)]
    assert not any(n.startswith(".tmp-") for n in os.listdir(res_dir))
    written = [read_id_map(os.path.join(folder, f"{t:05d}.png")) for t in range(5)]
    result = evaluate_davis([video], {video["video_id"]: written}, num_workers=1)
    assert result.global_figures["J&F-Mean"] == pytest.approx(1.0)
    mtime = os.path.getmtime(os.path.join(folder, "00000.png"))
    run_on_dataset(model, name, str(res_dir))  # rerun: the finished video is skipped
    assert os.path.getmtime(os.path.join(folder, "00000.png")) == mtime
    with pytest.raises(KeyError, match="not in"):
        run_on_dataset(model, name, str(res_dir), videos=["nope"])
    DatasetCatalog.remove(name)


def test_dataset_inference_writes_ytvis_results(tmp_path):
    """run_on_dataset(ytvis=True): per-video YouTube-VIS tracks (RLE per frame, mapped categories)."""
    from uvmos.data.video_dict import rle_to_mask
    from uvmos.engine.video_inference import YTVIS_FILE, collect_ytvis_results

    frames, video = shapes_stream(length=4)
    names = _frames_on_disk(tmp_path, frames)
    cats = {}
    for anns in video["annotations"]:
        for a in anns:
            a["category_id"] = cats.setdefault(a["instance_id"], len(cats) % 2)  # contiguous classes 0 / 1
    video = dict(video, file_names=names, json_video_id=7)
    name = "uvmos_test_meta_arch_ytvis"
    if name in DatasetCatalog.list():
        DatasetCatalog.remove(name)
    DatasetCatalog.register(name, lambda: [video])
    model = build(
        META_ARCH_REGISTRY,
        "VideoSegmenter",
        OracleProposer(videos=[video], class_agnostic=False),
        GreedyAssociator(min_area=4),
    )
    try:
        dirs = run_on_dataset(model, name, str(tmp_path / "res"), ytvis=True, category_map={0: 11, 1: 12})
        assert os.path.isfile(os.path.join(dirs[video["video_id"]], YTVIS_FILE))
        folder = dirs[video["video_id"]]
        with open(os.path.join(folder, YTVIS_FILE)) as f:
            per_video = json.load(f)
        maps = [read_id_map(os.path.join(folder, f"{t:05d}.png")) for t in range(4)]
        gt = gt_id_maps(video)
        assert {r["track_id"] for r in per_video} == set(np.unique(np.stack(maps)).tolist()) - {0}
        for r in per_video:  # each track: its masks in the written id maps, its object's category, mapped
            assert r["video_id"] == 7 and len(r["segmentations"]) == 4
            first = None
            for t, seg in enumerate(r["segmentations"]):
                want = maps[t] == r["track_id"]
                assert (seg is None) == (not want.any())
                if seg is not None:
                    assert np.array_equal(rle_to_mask(seg), want)
                    first = t if first is None else first
            obj = int(np.bincount(gt[first][maps[first] == r["track_id"]]).argmax())
            assert r["category_id"] == 11 + cats[obj]
        results = collect_ytvis_results(dirs)
        assert len(results) == len(per_video) and not any("track_id" in r for r in results)
        # a folder segmented without ytvis output cannot silently drop out of results.json
        plain = run_on_dataset(model, name, str(tmp_path / "plain"))
        with pytest.raises(FileNotFoundError, match="without YouTube-VIS output"):
            collect_ytvis_results(plain)
    finally:
        DatasetCatalog.remove(name)


_LIGHT_CONFIGS = [
    "configs/uvmos/tiny_cpu.py",
    "configs/ablations/tnet_wo_verification.py",
    "configs/ablations/tnet_wo_memory_update.py",
    "configs/ablations/tnet_fixed_rate_memory.py",
    "configs/ablations/tnet_gradient_descent.py",
    "configs/baselines/greedy_tiny_cpu.py",
]


@pytest.mark.parametrize("path", _LIGHT_CONFIGS)
def test_tiny_configs_run(path):
    cfg = LazyConfig.load(os.path.join(REPO, path))
    assert cfg.dataloader.test.dataset_name == "uvmos_synth_val"
    torch.manual_seed(0)
    model = instantiate(cfg.model).eval()
    frames, video = shapes_stream(length=2)
    outs = [o for _, o in model.run_video(frames, video)]
    assert [o.id_map.shape for o in outs] == [(H, W)] * 2  # native size (test_size None)
    expected = {
        "tnet_wo_verification": ("verifier", "NoVerifier"),
        "tnet_wo_memory_update": ("memory", "NoUpdateMemory"),
        "tnet_fixed_rate_memory": ("memory", "FixedRateMemory"),
        "tnet_gradient_descent": ("solver", "GradientDescent"),
        "tiny_cpu": ("memory", "AdaptiveMemory"),
    }
    stem = os.path.splitext(os.path.basename(path))[0]
    if stem in expected:
        attr, name = expected[stem]
        assert type(getattr(model.associator, attr)).__name__ == name
    else:
        assert type(model.associator).__name__ == "GreedyAssociator"


@pytest.mark.slow
@pytest.mark.parametrize(
    "path",
    [
        "configs/uvmos/r50_paper.py",
        "configs/baselines/maskrcnn_greedy.py",
        "configs/baselines/maskrcnn_tnet.py",
        "configs/baselines/oracle_tnet.py",
    ],
)
def test_full_size_configs_build(path):
    model = instantiate(LazyConfig.load(os.path.join(REPO, path)).model)
    assert isinstance(model, VideoSegmenter)


def test_proposer_checkpoint_loads_into_the_video_model(tmp_path):
    """uvmos's checkpointer maps a proposer's own checkpoint to ``proposer.`` (train.init_checkpoint)."""
    from uvmos.engine.checkpoint import AtomicCheckpointer as DetectionCheckpointer

    torch.manual_seed(0)
    dnet = instantiate(_tiny_dnet_cfg())
    path = tmp_path / "dnet.pth"
    torch.save({"model": dnet.state_dict()}, path)  # what tools/train_net.py writes for D-Net
    torch.manual_seed(1)
    model = VideoSegmenter(instantiate(_tiny_dnet_cfg()), GreedyAssociator())
    assert not torch.equal(model.proposer.backbone.stem.conv1.weight, dnet.backbone.stem.conv1.weight)
    DetectionCheckpointer(model).load(str(path))
    for k, v in dnet.state_dict().items():
        assert torch.equal(model.proposer.state_dict()[k], v), k
