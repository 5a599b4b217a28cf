"""YouTube-VIS AP / AR (paper Table 2), as the youtubevos cocoapi (``ytvos.py`` / ``ytvoseval.py``).

The YouTube-VIS toolkit is COCO evaluation with videos in place of images; this module reuses
pycocotools' ``COCOeval`` (matching, accumulation, summary) and replaces only what differs:

* **IoU** of a detected track d and a ground-truth track g is video-level:
  sum over frames of |d_t ∩ g_t| / sum over frames of |d_t ∪ g_t|, where a frame in which a
  track is absent (``None``) contributes nothing to the intersection and its other mask to the
  union; 0 when the union is empty (:func:`video_iou`);
* **area** of a track is the mean of its non-zero per-frame areas (ground truth: the JSON's
  ``areas`` when present), with area ranges all / small < 128² / medium < 256² / large;
* maxDets 1 / 10 / 100 per (video, category), IoU 0.50:0.05:0.95, 101 recall points (COCOeval's).

``class_agnostic=True`` sets ``useCats=0`` (categories ignored when matching). Figures are
fractions as the toolkit prints them; -1 (no ground truth in an area range) is reported as NaN.

Ground truth is read from a YouTube-VIS JSON (``videos`` with ``file_names``, track
``annotations`` with per-frame ``segmentations``) or a CocoVID JSON (``images`` per frame and
per-image ``annotations`` with ``instance_id``), kept as is (overlapping masks and crowd tracks as
in the JSON, unlike the training loader). Results are the YouTube-VIS results JSON: a list of
``{"video_id", "category_id", "score", "segmentations": [RLE | None, ...]}``.
"""
from __future__ import annotations

import contextlib
import io
import json
import logging
import os
from collections import OrderedDict, defaultdict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pycocotools.mask as mask_util
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from uvmos.data.video_dict import DatasetFormatError, mask_to_rle

__all__ = [
    "YTVIS_AREA_RANGES",
    "YTVIS_METRICS",
    "YTVISeval",
    "YTVISEvaluator",
    "evaluate_ytvis",
    "load_ytvis_gt",
    "load_ytvis_results",
    "write_ytvis_results",
    "results_from_id_maps",
    "results_from_video_prediction",
    "video_iou",
]

logger = logging.getLogger(__name__)

YTVIS_AREA_RANGES = [[0**2, 1e5**2], [0**2, 128**2], [128**2, 256**2], [256**2, 1e5**2]]
YTVIS_METRICS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")
PathLike = Union[str, os.PathLike]


# ----------------------------------------------------------------------------------------------
# RLE helpers
# ----------------------------------------------------------------------------------------------
def _to_coco_rle(seg: Any, h: int, w: int, where: str, src: Optional[str]) -> Optional[Dict[str, Any]]:
    """Per-frame segmentation (None, RLE with str/bytes/list counts, or polygons) -> RLE, bytes counts.

    Checked: the RLE's size is the video's; counts are a string or a list of non-negative ints that
    covers exactly the frame; a compressed string decodes to at most H*W pixels (garbage strings
    otherwise give areas far beyond the frame)."""
    if seg is None:
        return None
    if isinstance(seg, list):  # polygons
        if not seg:
            return None
        try:
            return mask_util.merge(mask_util.frPyObjects(seg, h, w))
        except Exception as e:
            raise DatasetFormatError(src, f"{where}: invalid polygon ({type(e).__name__}: {e})") from None
    if isinstance(seg, dict) and "counts" in seg and "size" in seg:
        if not isinstance(seg["size"], (list, tuple)) or list(seg["size"]) != [h, w]:
            raise DatasetFormatError(src, f"{where}: mask size {seg['size']} differs from the video's {[h, w]}")
        counts = seg["counts"]
        if isinstance(counts, list):
            if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
                raise DatasetFormatError(src, f"{where}: uncompressed RLE counts must be non-negative integers")
            if sum(counts) != h * w:
                raise DatasetFormatError(src, f"{where}: RLE counts cover {sum(counts)} pixels, the frame has {h * w}")
            return mask_util.frPyObjects(seg, h, w)
        if not isinstance(counts, (str, bytes)):
            raise DatasetFormatError(
                src, f"{where}: RLE counts must be a string (compressed) or a list of integers, got {type(counts).__name__}"
            )
        rle = {"size": [h, w], "counts": counts.encode("ascii", "replace") if isinstance(counts, str) else counts}
        runs = _rle_string_runs(rle["counts"])
        if runs is None or sum(runs) != h * w:
            total = "undecodable" if runs is None else f"runs covering {sum(runs)} pixels"
            raise DatasetFormatError(src, f"{where}: corrupt compressed RLE counts ({total}; the {w}x{h} frame has {h * w})")
        return rle
    raise DatasetFormatError(src, f"{where}: unsupported segmentation {type(seg).__name__}")


def _rle_string_runs(counts: bytes) -> Optional[List[int]]:
    """The run lengths of a COCO compressed RLE string (pycocotools' ``rleFrString`` in Python), or
    None when the string is not a valid encoding (truncated value or a negative run)."""
    runs: List[int] = []
    p, n = 0, len(counts)
    while p < n:
        x, k, more = 0, 0, True
        while more:
            if p >= n:
                return None
            c = counts[p] - 48
            if c < 0 or c > 63:
                return None
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x |= -1 << (5 * k)
        if len(runs) > 2:
            x += runs[-2]
        if x < 0:
            return None
        runs.append(x)
    return runs


def _mean_area(areas: Sequence[Optional[float]]) -> float:
    """The toolkit's ``avg_area``: mean of the truthy (present, non-zero) per-frame areas, else 0."""
    a = [x for x in areas if x]
    return float(np.array(a).mean()) if a else 0.0


def video_iou(d_seq: Sequence[Optional[Dict]], g_seq: Sequence[Optional[Dict]]) -> float:
    """Video IoU of two tracks (per-frame COCO RLEs or None), as ytvoseval's ``iou_seq``."""
    i = 0.0
    u = 0.0
    for d, g in zip(d_seq, g_seq):
        if d and g:
            inter = float(mask_util.area(mask_util.merge([d, g], True)))
            i += inter
            u += float(mask_util.area(d)) + float(mask_util.area(g)) - inter
        elif g:
            u += float(mask_util.area(g))
        elif d:
            u += float(mask_util.area(d))
    return i / u if u > 0 else 0.0


def _iou_matrix(ds: Sequence[Sequence], gs: Sequence[Sequence]) -> np.ndarray:
    """(D, G) video IoUs; per frame one vectorised pycocotools call per (d, g) overlap only."""
    D, G = len(ds), len(gs)
    inter = np.zeros((D, G))
    union = np.zeros((D, G))
    if D == 0 or G == 0:
        return inter
    T = max(len(s) for s in list(ds) + list(gs))
    for t in range(T):
        dt = [(k, s[t]) for k, s in enumerate(ds) if t < len(s) and s[t]]
        gt = [(k, s[t]) for k, s in enumerate(gs) if t < len(s) and s[t]]
        ad = np.zeros(D)
        ag = np.zeros(G)
        if dt:
            ad[[k for k, _ in dt]] = mask_util.area([r for _, r in dt])
        if gt:
            ag[[k for k, _ in gt]] = mask_util.area([r for _, r in gt])
        frame_inter = np.zeros((D, G))
        if dt and gt:
            # boxes first: only overlapping boxes need an RLE intersection
            ov = mask_util.iou([mask_util.toBbox(r).tolist() for _, r in dt], [mask_util.toBbox(r).tolist() for _, r in gt], [0] * len(gt))
            ov = np.atleast_2d(ov)
            for a, b in zip(*np.nonzero(ov > 0)):
                kd, rd = dt[a]
                kg, rg = gt[b]
                frame_inter[kd, kg] = mask_util.area(mask_util.merge([rd, rg], True))
        inter += frame_inter
        union += ad[:, None] + ag[None, :] - frame_inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = inter / union
    iou[~(union > 0)] = 0.0
    return iou


# ----------------------------------------------------------------------------------------------
# ground truth and results
# ----------------------------------------------------------------------------------------------
def load_ytvis_gt(src: Union[PathLike, Mapping[str, Any]]) -> Dict[str, Any]:
    """Read a YouTube-VIS or CocoVID ground-truth JSON into the evaluation form.

    Returns ``{"videos": [{"id", "name", "height", "width", "length"}], "categories": [...],
    "tracks": [{"id", "video_id", "category_id", "iscrowd", "segmentations": [RLE|None]*length,
    "area"}]}``. Video names follow the training loader (YouTube-VIS: folder of the first frame;
    CocoVID: ``name``), so outputs keyed by video dict ``video_id`` can be matched.
    """
    path = None
    if isinstance(src, (str, os.PathLike)):
        path = os.fspath(src)
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            raise DatasetFormatError(path, f"unreadable ground-truth JSON ({e})") from None
    else:
        data = src
    if not isinstance(data, Mapping) or "videos" not in data:
        raise DatasetFormatError(path, "not a YouTube-VIS/CocoVID JSON (no 'videos')")
    if data.get("annotations") is None:
        raise DatasetFormatError(path, "the JSON has no annotations (a split without ground truth)")
    is_cocovid = "images" in data and not any("file_names" in v for v in data["videos"])
    videos = []
    tracks = []
    if is_cocovid:
        ims_by_video = defaultdict(list)
        for im in data["images"]:
            ims_by_video[im["video_id"]].append(im)
        frame_of = {}
        for v in data["videos"]:
            ims = sorted(ims_by_video.get(v["id"], []), key=lambda im: int(im.get("frame_id", 0)))
            if not ims:
                raise DatasetFormatError(path, f"video {v['id']} has no images")
            h, w = int(v.get("height", ims[0]["height"])), int(v.get("width", ims[0]["width"]))
            videos.append({"id": v["id"], "name": str(v.get("name", v["id"])), "height": h, "width": w, "length": len(ims)})
            for t, im in enumerate(ims):
                frame_of[im["id"]] = (v["id"], t)
        vinfo = {v["id"]: v for v in videos}
        by_track: "OrderedDict[Tuple[Any, int], Dict]" = OrderedDict()
        for a in data["annotations"]:
            if a.get("image_id") not in frame_of or "instance_id" not in a:
                raise DatasetFormatError(path, f"annotation {a.get('id')}: unknown image or no instance_id")
            vid, t = frame_of[a["image_id"]]
            v = vinfo[vid]
            key = (vid, int(a["instance_id"]))
            tr = by_track.setdefault(
                key,
                {"video_id": vid, "category_id": a["category_id"], "iscrowd": 0,
                 "segmentations": [None] * v["length"], "areas": [None] * v["length"]},
            )
            if a["category_id"] != tr["category_id"]:
                raise DatasetFormatError(path, f"video {vid} instance {key[1]} changes category")
            rle = _to_coco_rle(a.get("segmentation"), v["height"], v["width"], f"annotation {a.get('id')}", path)
            tr["segmentations"][t] = rle
            tr["areas"][t] = a.get("area", None if rle is None else float(mask_util.area(rle)))
            tr["iscrowd"] = max(tr["iscrowd"], int(a.get("iscrowd", 0)))
        raw = list(by_track.values())
    else:
        for v in data["videos"]:
            files = v.get("file_names") or []
            length = int(v.get("length", len(files)))
            name = os.path.dirname(files[0]) if files and os.path.dirname(files[0]) else str(v["id"])
            videos.append({"id": v["id"], "name": name, "height": int(v["height"]), "width": int(v["width"]), "length": length})
        vinfo = {v["id"]: v for v in videos}
        raw = []
        for a in data["annotations"]:
            if a.get("video_id") not in vinfo:
                raise DatasetFormatError(path, f"annotation {a.get('id')} refers to unknown video {a.get('video_id')}")
            v = vinfo[a["video_id"]]
            segs = a.get("segmentations")
            if segs is None or len(segs) != v["length"]:
                raise DatasetFormatError(path, f"annotation {a.get('id')}: segmentations for {v['length']} frames expected")
            rles = [_to_coco_rle(s, v["height"], v["width"], f"annotation {a.get('id')} frame {t}", path) for t, s in enumerate(segs)]
            areas = a.get("areas") or [None if r is None else float(mask_util.area(r)) for r in rles]
            raw.append({"id": a.get("id"), "video_id": a["video_id"], "category_id": a["category_id"],
                        "iscrowd": int(a.get("iscrowd", 0)), "segmentations": rles, "areas": areas})
    for k, tr in enumerate(raw, start=1):
        tr["id"] = tr.get("id") or k
        tr["area"] = _mean_area(tr.pop("areas"))
        tracks.append(tr)
    categories = [dict(c) for c in data.get("categories") or []]
    known = {c["id"] for c in categories}
    missing = sorted({t["category_id"] for t in tracks} - known)
    if missing:  # trimmed JSONs (e.g. the CocoVID sample) use categories they do not list
        logger.warning("%s: categories %s are used but not listed; evaluating them too", path, missing)
        categories += [{"id": c, "name": str(c)} for c in missing]
    return {"videos": videos, "categories": categories, "tracks": tracks, "source": path}


def load_ytvis_results(src: Union[PathLike, Sequence[Mapping[str, Any]]]) -> List[Dict[str, Any]]:
    """Read (or validate) a YouTube-VIS results list ``[{video_id, category_id, score, segmentations}]``."""
    path = None
    if isinstance(src, (str, os.PathLike)):
        path = os.fspath(src)
        try:
            with open(path) as f:
                src = json.load(f)
        except (OSError, ValueError) as e:
            raise DatasetFormatError(path, f"unreadable results JSON ({e})") from None
    if not isinstance(src, list):
        raise DatasetFormatError(path, "results must be a JSON list of tracks")
    out = []
    for k, r in enumerate(src):
        if not isinstance(r, Mapping):
            raise DatasetFormatError(path, f"result {k} is a {type(r).__name__}, not an object")
        for key in ("video_id", "score", "category_id", "segmentations"):
            if key not in r:
                raise DatasetFormatError(path, f"result {k} lacks {key!r}")
        score, cat = r["score"], r["category_id"]
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not np.isfinite(score):
            raise DatasetFormatError(path, f"result {k}: score must be a finite number, got {score!r}")
        if isinstance(cat, bool) or not isinstance(cat, int):
            raise DatasetFormatError(path, f"result {k}: category_id must be an integer, got {cat!r}")
        if not isinstance(r["segmentations"], list):
            raise DatasetFormatError(path, f"result {k}: segmentations must be a list (one RLE or null per frame)")
        out.append(dict(r))
    return out


def _atomic_json(path: PathLike, obj: Any) -> None:
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(obj, f)
    os.replace(tmp, path)


def write_ytvis_results(results: Sequence[Mapping[str, Any]], path: PathLike) -> None:
    """Write a results list as the YouTube-VIS results JSON (RLE counts as str; temp file + rename)."""

    def clean(seg):
        if seg is None:
            return None
        c = seg["counts"]
        return {"size": [int(s) for s in seg["size"]], "counts": c.decode("ascii") if isinstance(c, bytes) else c}

    _atomic_json(
        path,
        [
            {"video_id": r["video_id"], "category_id": int(r["category_id"]), "score": float(r["score"]),
             "segmentations": [clean(s) for s in r["segmentations"]]}
            for r in results
        ],
    )


def results_from_id_maps(
    video_id: Any,
    id_maps: Sequence[Any],
    track_scores: Mapping[int, float],
    track_classes: Optional[Mapping[int, int]] = None,
    category_map: Optional[Mapping[int, int]] = None,
) -> List[Dict[str, Any]]:
    """Tracker output (per-frame (H, W) id maps, 0 = background) -> YouTube-VIS result tracks.

    ``track_scores``/``track_classes``: per track id (the associator's outputs); a track's class is
    mapped through ``category_map`` (e.g. contiguous -> JSON category id) when given. A track id
    present in the maps but without a score gets score 0.
    """
    maps = [m.detach().cpu().numpy() if hasattr(m, "detach") else np.asarray(m) for m in id_maps]
    ids = set(int(i) for i in track_scores)
    for m in maps:
        ids.update(int(i) for i in np.unique(m) if i != 0)
    out = []
    for tid in sorted(ids):
        segs = []
        for m in maps:
            mask = m == tid
            segs.append(mask_to_rle(mask) if mask.any() else None)
        if all(s is None for s in segs):
            continue
        cat = int((track_classes or {}).get(tid, 0))
        if category_map is not None:
            cat = int(category_map[cat])
        out.append({"video_id": video_id, "category_id": cat, "score": float(track_scores.get(tid, 0.0)), "segmentations": segs})
    return out


def results_from_video_prediction(
    video_id: Any, prediction: Mapping[str, Any], category_map: Optional[Mapping[int, int]] = None
) -> List[Dict[str, Any]]:
    """A ``VideoSegmenter`` prediction in the video-dict layout (``annotations``: per frame a list of
    ``{"instance_id", "segmentation", "category_id", "score"}``, plus ``track_scores``) -> YouTube-VIS
    result tracks. A track's category is the one of the last frame it appears in (the tracker's
    class vote accumulates over time, so that one has seen the most evidence), mapped through
    ``category_map``; its score is ``track_scores[id]`` (else the mean of its per-frame scores).
    """
    frames = prediction["annotations"]
    T = len(frames)
    segs: Dict[int, List[Any]] = {}
    cats: Dict[int, int] = {}
    scores: Dict[int, List[float]] = {}
    for t, insts in enumerate(frames):
        for inst in insts:
            i = int(inst["instance_id"])
            segs.setdefault(i, [None] * T)[t] = inst["segmentation"]
            cats[i] = int(inst.get("category_id", 0))
            scores.setdefault(i, []).append(float(inst.get("score", 1.0)))
    track_scores = prediction.get("track_scores") or {}
    out = []
    for i in sorted(segs):
        cat = cats[i] if category_map is None else int(category_map[cats[i]])
        score = float(track_scores.get(i, np.mean(scores[i])))
        out.append({"video_id": video_id, "category_id": cat, "score": score, "segmentations": segs[i]})
    return out


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


class YTVISeval(COCOeval):
    """``COCOeval`` with the YouTube-VIS video IoU, track areas and area ranges.

    Args:
        gt: output of :func:`load_ytvis_gt`.
        results: list of result tracks (:func:`load_ytvis_results`).
        class_agnostic: ignore categories when matching (``useCats = 0``).
    """

    def __init__(self, gt: Mapping[str, Any], results: Sequence[Mapping[str, Any]], class_agnostic: bool = False,
                 results_source: Optional[str] = None):
        videos = {v["id"]: v for v in gt["videos"]}
        src = results_source
        known_cats = {c["id"] for c in gt["categories"]}
        gt_anns = []
        for tr in gt["tracks"]:
            gt_anns.append(
                {"id": tr["id"], "image_id": tr["video_id"], "category_id": tr["category_id"], "iscrowd": int(tr["iscrowd"]),
                 "area": tr["area"], "segmentation": tr["segmentations"], "bbox": [0, 0, 0, 0]}
            )
        dt_anns = []
        for k, r in enumerate(results, start=1):
            v = videos.get(r["video_id"])
            if v is None:
                raise DatasetFormatError(src, f"result {k - 1}: video_id {r['video_id']!r} is not in the ground truth {gt.get('source')}")
            if not class_agnostic and r["category_id"] not in known_cats:
                raise DatasetFormatError(src, f"result {k - 1}: category_id {r['category_id']!r} is not a category of the "
                                              f"ground truth {gt.get('source')} ({sorted(known_cats)[:10]}...)")
            segs = r["segmentations"]
            if len(segs) != v["length"]:
                raise DatasetFormatError(src, f"result {k - 1}: {len(segs)} segmentations for {v['length']} frames of video {r['video_id']}")
            rles = [_to_coco_rle(s, v["height"], v["width"], f"result {k - 1} frame {t}", src) for t, s in enumerate(segs)]
            areas = [None if s is None else float(mask_util.area(s)) for s in rles]
            dt_anns.append(
                {"id": k, "image_id": r["video_id"], "category_id": r["category_id"], "score": float(r["score"]), "iscrowd": 0,
                 "area": _mean_area(areas), "segmentation": rles, "bbox": [0, 0, 0, 0]}
            )
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
        self.summary_text = "\n".join(line for line in buf.getvalue().splitlines() if line.lstrip().startswith("Average"))
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
try:
    from detectron2.evaluation import DatasetEvaluator as _DatasetEvaluator
except ImportError:  # pragma: no cover
    _DatasetEvaluator = object


class YTVISEvaluator(_DatasetEvaluator):
    """detectron2 ``DatasetEvaluator`` of YouTube-VIS AP/AR over video-level outputs.

    Ground truth: ``gt_json`` or the ``json_file`` of ``dataset_name``'s metadata (the official
    JSON, not the training loader's overlap-resolved masks). ``process(inputs, outputs)`` takes per
    video either ``output["ytvis"]`` (result tracks with JSON category ids) or the tracker's
    ``id_maps`` + ``track_scores`` (+ ``track_classes``, contiguous ids, mapped to JSON ids through
    the metadata's ``thing_dataset_id_to_contiguous_id``), or ``VideoSegmenter``'s video-dict
    prediction (``annotations``; :func:`results_from_video_prediction`). The video is found by the input's
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
            cmap = None if self._class_agnostic else self._contiguous_to_json
            if "ytvis" in out:
                tracks = [dict(t, video_id=vid) for t in out["ytvis"]]
            elif "annotations" in out:  # VideoSegmenter.forward's video-dict layout
                tracks = results_from_video_prediction(vid, out, cmap)
            else:
                tracks = results_from_id_maps(
                    vid, out["id_maps"], out.get("track_scores", {}), out.get("track_classes"), cmap
                )
            self._results.extend(tracks)

    def evaluate(self):
        results = self._results
        if self._distributed:
            from detectron2.utils import comm

            comm.synchronize()
            gathered = comm.gather(results, dst=0)
            if not comm.is_main_process():
                return {}
            results = [r for part in gathered for r in part]
        if self._output_dir:
            write_ytvis_results(results, os.path.join(os.fspath(self._output_dir), "results.json"))
        if not results:
            logger.warning("YTVISEvaluator: no result track")
        ev = YTVISeval(self._gt, results, class_agnostic=self._class_agnostic)
        figures = ev.run()
        logger.info("YouTube-VIS results:\n%s", ev.summary_text)
        return {"ytvis": dict(figures)}
