"""Per-frame instance AP of a proposer (paper Table 3, §4.5): COCO mask AP on every annotated frame.

Each annotated frame of each video is one COCO image; its ground-truth instances and the
proposer's masks (RLE at the frame's size) go through pycocotools' ``COCOeval(iouType="segm")``:
AP, AP50, AP75, APs, APm, APl (x100, NaN when a size range has no ground truth). Class-agnostic by
default (every instance is "object", as Table 3 on DAVIS17); ``class_agnostic=False`` keeps the
categories (the YouTube-VIS variant). DAVIS void pixels become ``iscrowd`` regions, so proposals
lying in them are neither hits nor false positives.

Proposals come from running the proposer over each video in order
(:func:`uvmos.modeling.proposers.video.propose_video`):
frame t gets ``prev_image`` = frame t-1 and ``prev_mask`` = the proposer's own foreground on t-1
(its ``foreground`` output > 0.5, else the union of its proposals scoring >= 0.5). This is the
stand-in for S_{t-1} when no tracker runs (Table 3 evaluates D-Net alone); the first frame has no
guidance (the proposer decides, see D-Net's ``first_frame``). For diagnosis, ``guidance="gt"``
feeds the ground-truth S_{t-1} (union of frame t-1's annotated instances) and ``"empty"`` an
all-zero mask: how much the SGM gains from, or suffers by, its own guidance
(``tools/eval_frame_ap.py --guidance own gt empty``).

Use with detectron2's ``inference_on_dataset(model, build_video_test_loader(name),
FrameAPEvaluator(name))`` (D-Net's eval forward turns video dicts into per-frame proposals through
:func:`uvmos.modeling.proposers.video.propose_videos`), or for any registered proposer with
:func:`evaluate_proposer`.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
from collections import OrderedDict
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import pycocotools.mask as mask_util
import torch
from detectron2.data import DatasetCatalog
from detectron2.evaluation import DatasetEvaluator
from detectron2.structures import Instances
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from uvmos.modeling.proposers.video import propose_videos

from .gather import gather_on_main

__all__ = ["FrameAPEvaluator", "evaluate_proposer", "instances_to_coco"]

logger = logging.getLogger(__name__)

_METRICS = ["AP", "AP50", "AP75", "APs", "APm", "APl"]


def instances_to_coco(instances: Instances, image_id: int, class_agnostic: bool = True) -> List[Dict[str, Any]]:
    """Proposals (``pred_masks`` bool (N, H, W), ``scores``, ``pred_classes``) -> COCO results."""
    if len(instances) == 0:
        return []
    masks = instances.pred_masks.cpu().numpy().astype(np.uint8)
    rles = mask_util.encode(np.asfortranarray(masks.transpose(1, 2, 0)))
    scores = instances.scores.cpu().tolist()
    classes = instances.pred_classes.cpu().tolist() if instances.has("pred_classes") else [0] * len(scores)
    out = []
    for rle, s, c in zip(rles, scores, classes):
        rle["counts"] = rle["counts"].decode("ascii")
        out.append(
            {
                "image_id": image_id,
                "category_id": 1 if class_agnostic else int(c) + 1,
                "segmentation": rle,
                "score": float(s),
            }
        )
    return out


class FrameAPEvaluator(DatasetEvaluator):
    """COCO mask AP over the annotated frames of the videos seen (see module doc).

    ``process`` accepts either
    * video level: ``inputs`` = video dicts, ``outputs`` = ``{"video_id", "frames": [{"frame_idx",
      "instances"}, ...]}`` (what :func:`propose_videos` and D-Net's eval forward on videos return);
    * frame level: ``inputs`` = frame dicts with ``video_id`` and ``frame_idx``, ``outputs`` =
      proposer outputs with ``instances``.

    Args:
        dataset_name: registered video dataset(s) holding the ground truth.
        class_agnostic: one category for all instances (Table 3).
        max_dets: the largest COCO ``maxDets`` (proposals per frame counted).
        void_as_crowd: DAVIS void regions as ``iscrowd`` annotations.
        distributed: gather results from all ranks.
    """

    def __init__(
        self,
        dataset_name: str | Sequence[str],
        class_agnostic: bool = True,
        max_dets: int = 100,
        void_as_crowd: bool = True,
        distributed: bool = True,
    ):
        self.dataset_names = [dataset_name] if isinstance(dataset_name, str) else list(dataset_name)
        self.class_agnostic = class_agnostic
        self.max_dets = int(max_dets)
        self.void_as_crowd = void_as_crowd
        self.distributed = distributed
        self._videos: Optional[Dict[str, Dict[str, Any]]] = None
        self._image_ids: Dict[Tuple[str, int], int] = {}
        self.reset()

    @property
    def videos(self) -> Dict[str, Dict[str, Any]]:
        if self._videos is None:
            videos: Dict[str, Dict[str, Any]] = {}
            for name in self.dataset_names:
                for v in DatasetCatalog.get(name):
                    videos[v["video_id"]] = v
            self._videos = videos
            for v in videos.values():
                for t in self._annotated_frames(v):
                    self._image_ids[(v["video_id"], t)] = len(self._image_ids) + 1
        return self._videos

    @staticmethod
    def _annotated_frames(video: Dict[str, Any]) -> List[int]:
        if video.get("annotations") is None:
            return []
        flags = video.get("annotated") or [True] * video["length"]
        return [t for t in range(video["length"]) if flags[t]]

    def reset(self) -> None:
        self._predictions: List[Dict[str, Any]] = []
        self._seen: set = set()

    def _add(self, video_id: str, frame_idx: int, instances: Instances) -> None:
        if video_id not in self.videos:
            raise KeyError(f"video {video_id!r} is not in datasets {self.dataset_names}")
        self._seen.add(video_id)
        image_id = self._image_ids.get((video_id, int(frame_idx)))
        if image_id is None:  # frame without ground truth
            return
        self._predictions.extend(instances_to_coco(instances, image_id, self.class_agnostic))

    def process(self, inputs: List[Dict[str, Any]], outputs: List[Dict[str, Any]]) -> None:
        for inp, out in zip(inputs, outputs):
            if "frames" in out:
                for fr in out["frames"]:
                    self._add(out.get("video_id", inp.get("video_id")), fr["frame_idx"], fr["instances"])
            else:
                self._add(inp["video_id"], inp["frame_idx"], out["instances"])

    # --------------------------------------------------------------------------------------------
    def _ground_truth(self, video_ids: Iterable[str]) -> Dict[str, Any]:
        images, anns = [], []
        for vid in sorted(video_ids):
            v = self.videos[vid]
            voids = v.get("void") or [None] * v["length"]
            for t in self._annotated_frames(v):
                image_id = self._image_ids[(vid, t)]
                images.append({"id": image_id, "height": v["height"], "width": v["width"]})
                regions = [
                    (inst["segmentation"], inst.get("category_id", 0), inst.get("iscrowd", 0))
                    for inst in v["annotations"][t]
                ]
                if self.void_as_crowd and voids[t] is not None:
                    regions.append((voids[t], 0, 1))
                for seg, cat, crowd in regions:
                    rle = seg if not isinstance(seg.get("counts"), list) else mask_util.frPyObjects(seg, *seg["size"])
                    rle = {
                        "size": rle["size"],
                        "counts": rle["counts"] if isinstance(rle["counts"], str) else rle["counts"].decode("ascii"),
                    }
                    area = float(mask_util.area({"size": rle["size"], "counts": rle["counts"].encode("ascii")}))
                    if area == 0:
                        continue
                    x, y, w, h = mask_util.toBbox(
                        {"size": rle["size"], "counts": rle["counts"].encode("ascii")}
                    ).tolist()
                    anns.append(
                        {
                            "id": len(anns) + 1,
                            "image_id": image_id,
                            "segmentation": rle,
                            "area": area,
                            "bbox": [x, y, w, h],
                            "iscrowd": int(crowd),
                            "category_id": 1 if self.class_agnostic else int(cat) + 1,
                        }
                    )
        cats = sorted({a["category_id"] for a in anns} | {1})
        return {"images": images, "annotations": anns, "categories": [{"id": c, "name": str(c)} for c in cats]}

    def evaluate(self) -> "OrderedDict[str, Dict[str, float]]":
        preds = gather_on_main(self._predictions, self.distributed)
        seen = gather_on_main(sorted(self._seen), self.distributed)
        if preds is None:
            return OrderedDict()
        seen = set(seen)
        if not seen:
            logger.warning("FrameAPEvaluator: no video was processed")
            return OrderedDict()
        gt = self._ground_truth(seen)
        results = OrderedDict(frame_ap=self._coco_ap(gt, preds))
        n_gt = sum(1 for a in gt["annotations"] if not a["iscrowd"])
        logger.info(
            f"Frame AP over {len(gt['images'])} frames of {len(seen)} videos ({n_gt} instances, "
            f"{len(preds)} proposals): {dict(results['frame_ap'])}"
        )
        return results

    def _coco_ap(self, gt: Dict[str, Any], preds: List[Dict[str, Any]]) -> Dict[str, float]:
        if not gt["images"]:
            return {m: float("nan") for m in _METRICS}
        with contextlib.redirect_stdout(io.StringIO()):
            coco_gt = COCO()
            coco_gt.dataset = copy.deepcopy(gt)
            coco_gt.createIndex()
            if not preds:
                return {m: 0.0 for m in _METRICS}
            coco_dt = coco_gt.loadRes(copy.deepcopy(preds))
            ev = COCOeval(coco_gt, coco_dt, "segm")
            ev.params.imgIds = [im["id"] for im in gt["images"]]
            ev.params.maxDets = [1, 10, self.max_dets]
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        return {m: float(ev.stats[i] * 100) if ev.stats[i] >= 0 else float("nan") for i, m in enumerate(_METRICS)}


# ------------------------------------------------------------------------------------------------
# a proposer over a dataset
# ------------------------------------------------------------------------------------------------
def evaluate_proposer(
    proposer: torch.nn.Module,
    dataset_name: str,
    max_videos: Optional[int] = None,
    evaluator: Optional[FrameAPEvaluator] = None,
    **kwargs,
) -> "OrderedDict[str, Dict[str, float]]":
    """Frame AP of any proposer on a registered video dataset (first ``max_videos`` videos)."""
    evaluator = evaluator or FrameAPEvaluator(dataset_name, distributed=False)
    evaluator.reset()
    was_training = proposer.training
    proposer.eval()
    try:
        videos = DatasetCatalog.get(dataset_name)[: max_videos or None]
        for v in videos:
            evaluator.process([v], propose_videos(proposer, [v], **kwargs))
    finally:
        proposer.train(was_training)
    return evaluator.evaluate()
