"""YouTube-VIS AP / AR (paper Table 2), as the youtubevos cocoapi (``ytvos.py`` / ``ytvoseval.py``).

The YouTube-VIS toolkit is COCO evaluation with videos in place of images; this module reuses
pycocotools' ``COCOeval`` (matching, accumulation, summary) and replaces only what differs:

* **IoU** of a detected track d and a ground-truth track g is video-level:
  sum over frames of |d_t ∩ g_t| / sum over frames of |d_t ∪ g_t|, where a frame in which a
  track is absent (``None``) contributes nothing to the intersection and its other mask to the
  union; 0 when the union is empty (:func:`video_iou`, :mod:`uvmos.evaluation.ytvis_iou`);
* **area** of a track is the mean of its non-zero per-frame areas (ground truth: the JSON's
  ``areas`` when present), with area ranges all / small < 128² / medium < 256² / large;
* maxDets 1 / 10 / 100 per (video, category), IoU 0.50:0.05:0.95, 101 recall points (COCOeval's).

``class_agnostic=True`` sets ``useCats=0`` (categories ignored when matching). Figures are
fractions as the toolkit prints them; -1 (no ground truth in an area range) is reported as NaN.

Ground truth is read from a YouTube-VIS JSON (``videos`` with ``file_names``, track
``annotations`` with per-frame ``segmentations``) or a CocoVID JSON (``images`` per frame and
per-image ``annotations`` with ``instance_id``) by the training loader's parser
(:func:`uvmos.data.ytvis.parse_ytvis`), but kept as is (overlapping masks and crowd tracks as in
the JSON, unlike the training loader). Results are the YouTube-VIS results JSON
(:mod:`uvmos.evaluation.ytvis_results`): a list of ``{"video_id", "category_id", "score",
"segmentations": [RLE | None, ...]}``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import pycocotools.mask as mask_util
from detectron2.evaluation import DatasetEvaluator
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from uvmos.data.video_dict import DatasetFormatError
from uvmos.data.ytvis import parse_ytvis, read_ytvis_json

from .gather import gather_on_main
from .ytvis_iou import _iou_matrix, _mean_area, video_iou
from .ytvis_results import (
    id_map_tracks,
    instance_tracks,
    load_ytvis_results,
    to_coco_rle,
    write_ytvis_results,
    ytvis_tracks,
)

__all__ = [
    "YTVIS_AREA_RANGES",
    "YTVIS_METRICS",
    "YTVISeval",
    "YTVISEvaluator",
    "evaluate_ytvis",
    "load_ytvis_gt",
    "video_iou",
]

logger = logging.getLogger(__name__)

YTVIS_AREA_RANGES = [[0**2, 1e5**2], [0**2, 128**2], [128**2, 256**2], [256**2, 1e5**2]]
YTVIS_METRICS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
PathLike = Union[str, os.PathLike]


# ----------------------------------------------------------------------------------------------
# ground truth
# ----------------------------------------------------------------------------------------------
def _gt_track(
    track_id: int, video: Mapping[str, Any], source_id: int, tr: Mapping[str, Any], path: Optional[str]
) -> Dict[str, Any]:
    """One parsed JSON track in the evaluation form (RLEs checked, mean area)."""
    h, w = video["height"], video["width"]
    where = f"video {video['name']} track {source_id} frame"
    rles = [to_coco_rle(seg, h, w, f"{where} {t}", path) for t, seg in enumerate(tr["segmentations"])]
    given = tr["areas"] if tr["areas"] and len(tr["areas"]) == len(rles) else [None] * len(rles)
    areas = [a if a is not None else (None if r is None else float(mask_util.area(r))) for a, r in zip(given, rles)]
    return {
        "id": track_id,
        "video_id": video["id"],
        "category_id": tr["category_id"],
        "iscrowd": int(tr["iscrowd"]),
        "segmentations": rles,
        "area": _mean_area(areas),
    }


def load_ytvis_gt(src: Union[PathLike, Mapping[str, Any]]) -> Dict[str, Any]:
    """Read a YouTube-VIS or CocoVID ground-truth JSON into the evaluation form.

    Returns ``{"videos": [{"id", "name", "height", "width", "length"}], "categories": [...],
    "tracks": [{"id", "video_id", "category_id", "iscrowd", "segmentations": [RLE|None]*length,
    "area"}], "source"}``. Video names follow the training loader (YouTube-VIS: folder of the first
    frame; CocoVID: ``name``), so outputs keyed by video dict ``video_id`` can be matched. Track
    ``id`` numbers the tracks 1..N (video order, then JSON track id); a frame without a JSON area
    gets its mask's.
    """
    data, path = read_ytvis_json(src, "ground-truth ")
    if data.get("annotations") is None:
        raise DatasetFormatError(path, "the JSON has no annotations (a split without ground truth)")
    parsed, tracks_by_video, _ = parse_ytvis(data, path)
    videos = [
        {
            "id": v["json_video_id"],
            "name": v["video_id"],
            "height": v["height"],
            "width": v["width"],
            "length": v["length"],
        }
        for v in parsed
    ]
    tracks: List[Dict[str, Any]] = []
    for v in videos:
        for source_id, tr in tracks_by_video.get(v["id"], []):
            tracks.append(_gt_track(len(tracks) + 1, v, source_id, tr, path))
    categories = [dict(c) for c in data.get("categories") or []]
    missing = sorted({t["category_id"] for t in tracks} - {c["id"] for c in categories})
    if missing:  # trimmed JSONs (e.g. the CocoVID sample) use categories they do not list
        logger.warning("%s: categories %s are used but not listed; evaluating them too", path, missing)
        categories += [{"id": c, "name": str(c)} for c in missing]
    return {"videos": videos, "categories": categories, "tracks": tracks, "source": path}


# ----------------------------------------------------------------------------------------------
# COCOeval with videos
# ----------------------------------------------------------------------------------------------
class _VideoCOCO(COCO):
    """A pycocotools ``COCO`` whose "images" are videos and whose annotation "segmentation" is
    the per-frame RLE list (``annToRLE`` passes it through to ``YTVISeval.computeIoU``)."""

    def __init__(self, dataset: Dict[str, Any]):
        super().__init__()
        self.dataset = dataset
        with contextlib.redirect_stdout(io.StringIO()):
            self.createIndex()

    def annToRLE(self, ann):
        return ann["segmentation"]


def _gt_annotations(gt: Mapping[str, Any]) -> List[Dict[str, Any]]:
    """The ground-truth tracks as COCO annotations of their video ("image")."""
    return [
        {
            "id": tr["id"],
            "image_id": tr["video_id"],
            "category_id": tr["category_id"],
            "iscrowd": int(tr["iscrowd"]),
            "area": tr["area"],
            "segmentation": tr["segmentations"],
            "bbox": [0, 0, 0, 0],
        }
        for tr in gt["tracks"]
    ]


def _result_annotations(
    gt: Mapping[str, Any], results: Sequence[Mapping[str, Any]], class_agnostic: bool, src: Optional[str]
) -> List[Dict[str, Any]]:
    """The result tracks as COCO detections, checked against the ground truth's videos (and
    categories, unless ``class_agnostic``); errors name ``src``."""
    videos = {v["id"]: v for v in gt["videos"]}
    known_cats = {c["id"] for c in gt["categories"]}
    dt_anns = []
    for k, r in enumerate(results, start=1):
        v = videos.get(r["video_id"])
        if v is None:
            raise DatasetFormatError(
                src, f"result {k - 1}: video_id {r['video_id']!r} is not in the ground truth {gt.get('source')}"
            )
        if not class_agnostic and r["category_id"] not in known_cats:
            raise DatasetFormatError(
                src,
                f"result {k - 1}: category_id {r['category_id']!r} is not a category of the "
                f"ground truth {gt.get('source')} ({sorted(known_cats)[:10]}...)",
            )
        segs = r["segmentations"]
        if len(segs) != v["length"]:
            raise DatasetFormatError(
                src, f"result {k - 1}: {len(segs)} segmentations for {v['length']} frames of video {r['video_id']}"
            )
        h, w = v["height"], v["width"]
        rles = [to_coco_rle(s, h, w, f"result {k - 1} frame {t}", src) for t, s in enumerate(segs)]
        areas = [None if s is None else float(mask_util.area(s)) for s in rles]
        dt_anns.append(
            {
                "id": k,
                "image_id": r["video_id"],
                "category_id": r["category_id"],
                "score": float(r["score"]),
                "iscrowd": 0,
                "area": _mean_area(areas),
                "segmentation": rles,
                "bbox": [0, 0, 0, 0],
            }
        )
    return dt_anns


class YTVISeval(COCOeval):
    """``COCOeval`` with the YouTube-VIS video IoU, track areas and area ranges.

    Args:
        gt: output of :func:`load_ytvis_gt`.
        results: list of result tracks (:func:`load_ytvis_results`).
        class_agnostic: ignore categories when matching (``useCats = 0``).
    """

    def __init__(
        self,
        gt: Mapping[str, Any],
        results: Sequence[Mapping[str, Any]],
        class_agnostic: bool = False,
        results_source: Optional[str] = None,
    ):
        gt_anns = _gt_annotations(gt)
        dt_anns = _result_annotations(gt, results, class_agnostic, results_source)
        images = [{"id": v["id"]} for v in gt["videos"]]
        coco_gt = _VideoCOCO({"images": images, "categories": gt["categories"], "annotations": gt_anns})
        coco_dt = _VideoCOCO({"images": images, "categories": gt["categories"], "annotations": dt_anns})
        super().__init__(coco_gt, coco_dt, iouType="segm")
        self.params.areaRng = [list(r) for r in YTVIS_AREA_RANGES]
        self.params.areaRngLbl = ["all", "small", "medium", "large"]
        self.params.maxDets = [1, 10, 100]
        if class_agnostic:
            self.params.useCats = 0

    def computeIoU(self, imgId, catId):
        """(D, G) video IoUs of the (score-sorted, maxDets-capped) detections and the ground truth."""
        p = self.params
        if p.useCats:
            gt = self._gts[imgId, catId]
            dt = self._dts[imgId, catId]
        else:
            gt = [g for c in p.catIds for g in self._gts[imgId, c]]
            dt = [d for c in p.catIds for d in self._dts[imgId, c]]
        if len(gt) == 0 and len(dt) == 0:
            return []
        inds = np.argsort([-d["score"] for d in dt], kind="mergesort")
        dt = [dt[i] for i in inds][: p.maxDets[-1]]
        return _iou_matrix([d["segmentation"] for d in dt], [g["segmentation"] for g in gt])

    def run(self, verbose: bool = False) -> "OrderedDict[str, float]":
        """evaluate + accumulate + summarize; returns :data:`YTVIS_METRICS` (-1 -> NaN)."""
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            self.evaluate()
            self.accumulate()
            self.summarize()
        self.summary_text = "\n".join(
            line for line in buf.getvalue().splitlines() if line.lstrip().startswith("Average")
        )
        if verbose:
            print(self.summary_text)
        return OrderedDict((k, float(s) if s >= 0 else float("nan")) for k, s in zip(YTVIS_METRICS, self.stats))


def evaluate_ytvis(
    gt: Union[PathLike, Mapping[str, Any]],
    results: Union[PathLike, Sequence[Mapping[str, Any]]],
    class_agnostic: bool = False,
    verbose: bool = False,
) -> "OrderedDict[str, float]":
    """YouTube-VIS AP/AR of ``results`` (path or list) against ``gt`` (path, JSON dict or
    :func:`load_ytvis_gt` output). Results are not modified."""
    if not (isinstance(gt, Mapping) and "tracks" in gt):
        gt = load_ytvis_gt(gt)
    res = load_ytvis_results(results if isinstance(results, (str, os.PathLike)) else list(results))
    src = os.fspath(results) if isinstance(results, (str, os.PathLike)) else None
    return YTVISeval(gt, res, class_agnostic=class_agnostic, results_source=src).run(verbose=verbose)


# ----------------------------------------------------------------------------------------------
# detectron2 evaluator
# ----------------------------------------------------------------------------------------------
class YTVISEvaluator(DatasetEvaluator):
    """detectron2 ``DatasetEvaluator`` of YouTube-VIS AP/AR over video-level outputs.

    Ground truth: ``gt_json`` or the ``json_file`` of ``dataset_name``'s metadata (the official
    JSON, not the training loader's overlap-resolved masks). ``process(inputs, outputs)`` takes per
    video either ``output["ytvis"]`` (result tracks with JSON category ids) or the tracker's
    ``id_maps`` + ``track_scores`` (+ ``track_classes``, contiguous ids, mapped to JSON ids through
    the metadata's ``thing_dataset_id_to_contiguous_id``), or ``VideoSegmenter``'s video-dict
    prediction (``annotations``); both become result tracks through
    :func:`uvmos.evaluation.ytvis_results.ytvis_tracks`. The video is found by the input's
    ``json_video_id`` or by its ``video_id`` (= the JSON video's name). ``evaluate()`` returns
    ``{"ytvis": {"AP": ..., ...}}`` and, with ``output_dir``, writes ``results.json`` there.
    """

    def __init__(
        self,
        dataset_name: Optional[str] = None,
        *,
        gt_json: Optional[PathLike] = None,
        output_dir: Optional[PathLike] = None,
        class_agnostic: bool = False,
        distributed: bool = True,
    ):
        self._contiguous_to_json: Optional[Dict[int, int]] = None
        if gt_json is None:
            if dataset_name is None:
                raise ValueError("give dataset_name or gt_json")
            from detectron2.data import MetadataCatalog

            meta = MetadataCatalog.get(dataset_name)
            gt_json = getattr(meta, "json_file", None)
            if gt_json is None:
                raise ValueError(f"dataset {dataset_name} has no json_file in its metadata; pass gt_json")
            if hasattr(meta, "thing_dataset_id_to_contiguous_id"):
                self._contiguous_to_json = {v: k for k, v in meta.thing_dataset_id_to_contiguous_id.items()}
        self._gt = load_ytvis_gt(gt_json)
        self._by_name = {v["name"]: v["id"] for v in self._gt["videos"]}
        self._ids = {v["id"] for v in self._gt["videos"]}
        self._output_dir = output_dir
        self._class_agnostic = class_agnostic
        self._distributed = distributed
        self.reset()

    def reset(self):
        self._results: List[Dict[str, Any]] = []

    def _json_video_id(self, inp: Mapping[str, Any], out: Mapping[str, Any]):
        for d in (out, inp):
            if d.get("json_video_id") in self._ids:
                return d["json_video_id"]
        name = out.get("video_id", inp.get("video_id"))
        if name in self._by_name:
            return self._by_name[name]
        if name in self._ids:
            return name
        raise KeyError(f"video {name!r} is not in the ground truth {self._gt.get('source')}")

    def process(self, inputs, outputs):
        for inp, out in zip(inputs, outputs):
            vid = self._json_video_id(inp, out)
            if "ytvis" in out:
                self._results.extend(dict(t, video_id=vid) for t in out["ytvis"])
                continue
            if "annotations" in out:  # VideoSegmenter.forward's video-dict layout
                frames = [instance_tracks(f) for f in out["annotations"]]
            else:
                scores, classes = out.get("track_scores"), out.get("track_classes")
                frames = [None if m is None else id_map_tracks(m, scores, classes) for m in out["id_maps"]]
            cmap = None if self._class_agnostic else self._contiguous_to_json
            self._results.extend(ytvis_tracks(vid, frames, cmap))

    def evaluate(self):
        results = gather_on_main(self._results, self._distributed)
        if results is None:
            return {}
        if self._output_dir:
            write_ytvis_results(results, os.path.join(os.fspath(self._output_dir), "results.json"))
        if not results:
            logger.warning("YTVISEvaluator: no result track")
        ev = YTVISeval(self._gt, results, class_agnostic=self._class_agnostic)
        figures = ev.run()
        logger.info("YouTube-VIS results:\n%s", ev.summary_text)
        return {"ytvis": dict(figures)}
