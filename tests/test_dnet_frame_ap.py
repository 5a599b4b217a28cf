"""Per-frame instance AP evaluator and the sequential video runner (any proposer, and D-Net)."""

import math
import uuid
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from detectron2.config import LazyConfig, instantiate
from detectron2.data import DatasetCatalog
from detectron2.evaluation import inference_on_dataset
from detectron2.structures import Instances
from torch import nn

from uvmos.data.build import build_video_test_loader
from uvmos.data.video_dict import mask_to_rle, rle_to_mask
from uvmos.evaluation.frame_ap import FrameAPEvaluator, evaluate_proposer
from uvmos.modeling.proposers.video import propose_video, propose_videos

H, W, T = 48, 64, 3


def _rect(y0, x0, y1, x1):
    m = np.zeros((H, W), dtype=bool)
    m[y0:y1, x0:x1] = True
    return m


def _video(root: Path, vid: str, shift: int, unannotated=()):
    files, anns = [], []
    (root / vid).mkdir(parents=True)
    for t in range(T):
        img = np.full((H, W, 3), 30, dtype=np.uint8)
        masks = [_rect(4, 4 + shift + t, 20, 24 + shift + t), _rect(26, 30, 44, 60 - t)]
        for k, m in enumerate(masks):
            img[m] = (200, 100 + 80 * k, 50)
        fn = root / vid / f"{t:05d}.png"
        cv2.imwrite(str(fn), img)
        files.append(str(fn))
        anns.append(
            [
                {
                    "instance_id": k + 1,
                    "segmentation": mask_to_rle(m),
                    "bbox": [0, 0, 1, 1],
                    "bbox_mode": 0,
                    "category_id": 0,
                    "iscrowd": 0,
                }
                for k, m in enumerate(masks)
            ]
        )
    void = [None] * T
    void[1] = mask_to_rle(_rect(0, 60, 4, 64))
    return {
        "video_id": vid,
        "file_names": files,
        "height": H,
        "width": W,
        "length": T,
        "annotations": anns,
        "annotated": [t not in unannotated for t in range(T)],
        "void": void,
    }


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("frame_ap")
    videos = [_video(root, "a", 0), _video(root, "b", 6, unannotated=(2,))]
    name = f"test_frame_ap_{uuid.uuid4().hex[:8]}"
    DatasetCatalog.register(name, lambda: videos)
    yield name, videos
    DatasetCatalog.remove(name)


class GTProposer(nn.Module):
    """Ground-truth masks, optionally eroded / with a confident false positive; records its inputs."""

    def __init__(self, videos, erode=0, false_positive=False):
        super().__init__()
        self.videos = {v["video_id"]: v for v in videos}
        self.erode, self.false_positive = erode, false_positive
        self.inputs = []

    def forward(self, batched_inputs):
        outs = []
        for x in batched_inputs:
            self.inputs.append(x)
            anns = self.videos[x["video_id"]]["annotations"][x["frame_idx"]]
            masks = [rle_to_mask(a["segmentation"]).astype(np.uint8) for a in anns]
            if self.erode:
                k = np.ones((2 * self.erode + 1,) * 2, np.uint8)
                masks = [cv2.erode(m, k) for m in masks]
            scores = [0.9] * len(masks)
            if self.false_positive:
                masks.append(_rect(30, 0, 46, 20).astype(np.uint8))
                scores.append(0.95)
            inst = Instances((x["height"], x["width"]))
            inst.pred_masks = torch.as_tensor(np.stack(masks)).bool()
            inst.scores = torch.tensor(scores)
            inst.pred_classes = torch.zeros(len(masks), dtype=torch.long)
            outs.append({"instances": inst, "foreground": inst.pred_masks.any(0).float()})
        return outs


def test_perfect_proposals_give_100(dataset):
    name, videos = dataset
    res = evaluate_proposer(GTProposer(videos), name)["frame_ap"]
    assert set(res) == {"AP", "AP50", "AP75", "APs", "APm", "APl"}
    assert res["AP"] == pytest.approx(100.0) and res["AP50"] == pytest.approx(100.0)
    assert math.isnan(res["APl"])  # no large objects in 48x64 frames


def test_perturbed_proposals_score_lower(dataset):
    name, videos = dataset
    eroded = evaluate_proposer(GTProposer(videos, erode=2), name)["frame_ap"]
    fp = evaluate_proposer(GTProposer(videos, false_positive=True), name)["frame_ap"]
    assert eroded["AP"] < 90 and eroded["AP50"] == pytest.approx(100.0)  # IoU ~0.6-0.7: hits only at low thresholds
    assert fp["AP"] < 100 and fp["AP50"] < 100


def test_frame_level_process_and_subset(dataset):
    name, videos = dataset
    ev = FrameAPEvaluator(name, distributed=False)
    ev.reset()
    prop = GTProposer(videos)
    for t in range(T):  # only video "a": ground truth of unseen videos is not counted
        inp = {"video_id": "a", "frame_idx": t, "height": H, "width": W}
        ev.process([inp], prop([inp]))
    assert ev.evaluate()["frame_ap"]["AP"] == pytest.approx(100.0)
    ev.reset()
    inp = {"video_id": "a", "frame_idx": 0, "height": H, "width": W}
    ev.process([inp], prop([inp]))  # frames 1, 2 of "a" missing -> their instances are misses
    assert ev.evaluate()["frame_ap"]["AP"] < 50


def test_runner_passes_previous_frame_and_foreground(dataset):
    _, videos = dataset
    prop = GTProposer(videos)
    prop.test_size = (24, 32)  # the proposer owns its input size
    outs = list(propose_video(prop, videos[0]))
    assert [t for t, _ in outs] == [0, 1, 2]
    first, second, third = prop.inputs
    assert "prev_image" not in first and "prev_mask" not in first
    assert first["image"].shape == (3, 24, 32) and first["height"] == H
    assert torch.equal(second["prev_image"], first["image"])
    fg0 = torch.nn.functional.interpolate(outs[0][1]["foreground"][None, None], size=(24, 32), mode="nearest")[0]
    assert torch.equal(second["prev_mask"], (fg0 > 0.5).float())
    assert third["prev_mask"].shape == (1, 24, 32)
    assert outs[0][1]["instances"].image_size == (H, W)


def test_dnet_on_videos_through_inference_on_dataset(dataset):
    """The train_net route: D-Net eval forward on video dicts + FrameAPEvaluator."""
    name, _ = dataset
    cfg = LazyConfig.load(str(Path(__file__).resolve().parents[1] / "configs" / "dnet" / "tiny_cpu.py"))
    torch.manual_seed(0)
    model = instantiate(cfg.model)
    model.eval()
    outs = model(build_video_test_loader(name).videos[:1])
    assert len(outs) == 1 and [f["frame_idx"] for f in outs[0]["frames"]] == [0, 1, 2]
    assert all(f["instances"].image_size == (H, W) for f in outs[0]["frames"])
    res = inference_on_dataset(model, build_video_test_loader(name), FrameAPEvaluator(name))
    assert set(res["frame_ap"]) == {"AP", "AP50", "AP75", "APs", "APm", "APl"}
    assert 0 <= res["frame_ap"]["AP"] < 100  # untrained model
    assert len(propose_videos(model, build_video_test_loader(name).videos)) == 2


def test_runner_ground_truth_and_empty_guidance(dataset):
    _, videos = dataset
    v = videos[0]
    prop = GTProposer(videos)
    prop.test_size = (24, 32)
    list(propose_video(prop, v, guidance="gt"))
    for t in (1, 2):  # frame t is guided by the union of frame t-1's annotated masks, resized
        union = np.any([rle_to_mask(a["segmentation"]) for a in v["annotations"][t - 1]], axis=0)
        want = cv2.resize(union.astype(np.uint8), (32, 24), interpolation=cv2.INTER_NEAREST)
        got = prop.inputs[t]["prev_mask"]
        assert got.shape == (1, 24, 32) and torch.equal(got[0], torch.from_numpy(want).float())
    prop = GTProposer(videos)
    list(propose_video(prop, v, guidance="empty"))
    assert all(x["prev_mask"].sum() == 0 for x in prop.inputs[1:]) and "prev_mask" not in prop.inputs[0]
    with pytest.raises(ValueError, match="guidance must be"):
        list(propose_video(prop, v, guidance="oracle"))
    with pytest.raises(Exception, match="needs a video with annotations"):
        list(propose_video(prop, {k: x for k, x in v.items() if k != "annotations"}, guidance="gt"))


def test_eval_frame_ap_tool(dataset, tmp_path):
    from conftest import load_tool

    tool = load_tool("eval_frame_ap")
    name, _ = dataset
    cfg = str(Path(__file__).resolve().parents[1] / "configs" / "dnet" / "tiny_cpu.py")
    out = tmp_path / "ap.json"
    torch.manual_seed(0)
    res = tool.main(
        [
            "--config-file",
            cfg,
            "--dataset",
            name,
            "--guidance",
            "own",
            "empty",
            "--max-videos",
            "1",
            "--json",
            str(out),
            "--allow-random-weights",
        ]
    )
    assert set(res) == {"own", "empty"} and all(0 <= r["AP"] <= 100 for r in res.values())
    import json

    assert json.loads(out.read_text())["frame_ap"]["own"]["AP"] == res["own"]["AP"]
    with pytest.raises(SystemExit, match="missing.pth: no such file"):
        tool.main(["--config-file", cfg, "--dataset", name, f"train.init_checkpoint={tmp_path / 'missing.pth'}"])
    with pytest.raises(SystemExit, match="would be random.*--allow-random-weights"):  # no weights: refused
        tool.main(["--config-file", cfg, "--dataset", name, "--guidance", "own", "empty"])
