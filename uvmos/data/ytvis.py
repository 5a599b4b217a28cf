"""YouTube-VIS 2019/2021 JSON and the CocoVID layout -> video dicts.

Two JSON layouts are read (detected from the file):

* YouTube-VIS: ``videos`` with ``file_names``/``length``, ``annotations`` one per object track with
  per-frame ``segmentations`` (RLE, polygons, or null when the object is absent), ``category_id``.
* CocoVID (mmtracking; ``../shared/data/ytvis-sample``): ``videos``, ``images`` with ``video_id``
  and ``frame_id``, and per-image ``annotations`` with ``instance_id``.

Choices (also in docs/datasets.md):

* Instance ids are renumbered 1..K per video in order of the JSON track id (annotation ``id`` for
  YouTube-VIS, ``instance_id`` for CocoVID); the JSON id is kept as ``source_id``. Compact ids fit
  uint8 id maps and DAVIS-style PNGs.
* Overlaps: the schema needs non-overlapping masks per frame, YouTube-VIS masks sometimes overlap.
  A contested pixel goes to the instance with the *smaller* mask in that frame (ties: lower
  instance id). The smaller object is usually the occluder in front, and this rule never erases a
  small object under a large one. An instance left empty is dropped from that frame.
* ``iscrowd=1`` regions become the frame's ``void`` (ignored), not instances.
* A JSON without ``annotations`` (or ``null``) is a split without ground truth: ``annotations``
  is None in the video dicts. Every frame of an annotated JSON is annotated (an object with a
  null segmentation is absent from that frame).

:func:`parse_ytvis` is the one reader of both layouts; the YouTube-VIS evaluation
(``uvmos.evaluation.ytvis.load_ytvis_gt``) uses it too and keeps the tracks as in the JSON.
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import pycocotools.mask as mask_util
from detectron2.data import MetadataCatalog
from detectron2.structures import BoxMode
from fvcore.common.timer import Timer

from .io import read_json
from .video_dict import DatasetFormatError

__all__ = [
    "load_ytvis_json",
    "read_ytvis_json",
    "parse_ytvis",
    "ytvis_category_metadata",
    "YTVIS_2019_CATEGORIES",
    "YTVIS_2021_CATEGORIES",
]

logger = logging.getLogger(__name__)

# Category names of the two YouTube-VIS releases, by their JSON id (1-based).
_YTVIS_2019_NAMES = (
    "person giant_panda lizard parrot skateboard sedan ape dog snake monkey hand rabbit duck cat cow fish "
    "train horse turtle bear motorbike giraffe leopard fox deer owl surfboard airplane truck zebra tiger "
    "elephant snowboard boat shark mouse frog eagle earless_seal tennis_racket"
).split()
_YTVIS_2021_NAMES = (
    "airplane bear bird boat car cat cow deer dog duck earless_seal elephant fish flying_disc fox frog "
    "giant_panda giraffe horse leopard lizard monkey motorbike mouse parrot person rabbit shark skateboard "
    "snake snowboard squirrel surfboard tennis_racket tiger train truck turtle whale zebra"
).split()
YTVIS_2019_CATEGORIES = [{"id": i + 1, "name": n} for i, n in enumerate(_YTVIS_2019_NAMES)]
YTVIS_2021_CATEGORIES = [{"id": i + 1, "name": n} for i, n in enumerate(_YTVIS_2021_NAMES)]


def ytvis_category_metadata(categories: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """``thing_classes`` and ``thing_dataset_id_to_contiguous_id`` (ids sorted -> 0..C-1)."""
    cats = sorted(categories, key=lambda c: int(c["id"]))
    return {
        "thing_classes": [c["name"] for c in cats],
        "thing_dataset_id_to_contiguous_id": {int(c["id"]): i for i, c in enumerate(cats)},
    }


def _merge_categories(json_file: str, from_json: Sequence[Dict], extra: Optional[Sequence[Dict]]) -> List[Dict]:
    by_id = {int(c["id"]): {"id": int(c["id"]), "name": c["name"]} for c in (extra or [])}
    for c in from_json:
        cid = int(c["id"])
        if cid in by_id and by_id[cid]["name"] != c["name"]:
            raise DatasetFormatError(
                json_file, f"category {cid} is {c['name']!r} in the JSON but {by_id[cid]['name']!r} in the known list"
            )
        by_id[cid] = {"id": cid, "name": c["name"]}
    return [by_id[k] for k in sorted(by_id)]


def _to_rle(json_file: str, seg: Any, h: int, w: int, where: str) -> Dict[str, Any]:
    """Any COCO segmentation (polygons, uncompressed or compressed RLE) -> compressed RLE (bytes)."""
    if isinstance(seg, list):  # polygons
        if not seg:
            raise DatasetFormatError(json_file, f"{where}: empty polygon list")
        return mask_util.merge(mask_util.frPyObjects(seg, h, w))
    if isinstance(seg, dict) and "counts" in seg and "size" in seg:
        if list(seg["size"]) != [h, w]:
            raise DatasetFormatError(
                json_file, f"{where}: mask size {seg['size'][1]}x{seg['size'][0]} differs from frame size {w}x{h}"
            )
        if isinstance(seg["counts"], list):
            return mask_util.frPyObjects(seg, h, w)
        counts = seg["counts"].encode("ascii") if isinstance(seg["counts"], str) else seg["counts"]
        return {"size": [h, w], "counts": counts}
    raise DatasetFormatError(json_file, f"{where}: unsupported segmentation {type(seg).__name__}")


def _rle_str(rle: Dict[str, Any]) -> Dict[str, Any]:
    counts = rle["counts"]
    return {"size": list(rle["size"]), "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts}


def _frame_instances(items: List[Dict[str, Any]], h: int, w: int) -> List[Dict[str, Any]]:
    """Make one frame's instances non-overlapping (smaller mask wins) and build instance dicts.

    ``items``: [{"instance_id", "category_id", "rle" (compressed, bytes)}, ...].
    """
    if not items:
        return []
    rles = [it["rle"] for it in items]
    areas = mask_util.area(rles)
    overlap = False
    if len(items) > 1:
        ious = mask_util.iou(rles, rles, [0] * len(rles))
        overlap = bool((np.triu(np.asarray(ious), 1) > 0).any())
    if overlap:
        order = sorted(range(len(items)), key=lambda i: (int(areas[i]), items[i]["instance_id"]))
        taken = np.zeros((h, w), dtype=bool)
        for i in order:
            m = mask_util.decode(rles[i]).astype(bool) & ~taken
            taken |= m
            rles[i] = mask_util.encode(np.asfortranarray(m.astype(np.uint8)))
        areas = mask_util.area(rles)
    out = []
    for it, rle, area in zip(items, rles, areas):
        if area == 0:
            continue
        x, y, bw, bh = mask_util.toBbox(rle).tolist()
        out.append(
            {
                "instance_id": it["instance_id"],
                "source_id": it["source_id"],
                "segmentation": _rle_str(rle),
                "bbox": [x, y, x + bw, y + bh],
                "bbox_mode": BoxMode.XYXY_ABS,
                "category_id": it["category_id"],
                "iscrowd": 0,
            }
        )
    out.sort(key=lambda d: d["instance_id"])
    return out


def _void(crowd: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    if not crowd:
        return None
    return _rle_str(mask_util.merge(crowd)) if len(crowd) > 1 else _rle_str(crowd[0])


def _parse_ytvis(json_file: Optional[str], data: Mapping, image_root: str) -> Tuple[List[Dict], Dict]:
    """YouTube-VIS: per video ``file_names``; annotations are tracks with per-frame segmentations."""
    videos = []
    for v in data["videos"]:
        files = v.get("file_names")
        if not files:
            raise DatasetFormatError(json_file, f"video {v.get('id')} has no file_names")
        length = int(v.get("length", len(files)))
        if length != len(files):
            raise DatasetFormatError(json_file, f"video {v['id']}: length {length} but {len(files)} file_names")
        name = os.path.dirname(files[0]) or str(v["id"])
        videos.append(
            {
                "video_id": name,
                "json_video_id": v["id"],
                "file_names": [os.path.join(image_root, f) for f in files],
                "height": int(v["height"]),
                "width": int(v["width"]),
                "length": length,
            }
        )
    known = {v["json_video_id"] for v in videos}
    tracks: Dict[Any, List[Dict]] = defaultdict(list)
    for a in data.get("annotations") or []:
        if a.get("video_id") not in known:
            raise DatasetFormatError(json_file, f"annotation {a.get('id')} refers to unknown video {a.get('video_id')}")
        tracks[a["video_id"]].append(a)
    return videos, {
        vid: sorted(((int(a.get("id", k + 1)), _track(a)) for k, a in enumerate(anns)), key=lambda x: x[0])
        for vid, anns in tracks.items()
    }


def _track(a: Mapping[str, Any]) -> Dict[str, Any]:
    return {
        "category_id": a["category_id"],
        "segmentations": a.get("segmentations"),
        "iscrowd": int(a.get("iscrowd", 0)),
        "areas": a.get("areas"),
    }


def _cocovid_videos(json_file: Optional[str], data: Mapping, image_root: str) -> Tuple[List[Dict], Dict[Any, tuple]]:
    """CocoVID videos from ``images`` (``video_id``, ``frame_id``) and {image id: (video id, t)}."""
    images_by_video: Dict[Any, List[Dict]] = defaultdict(list)
    for im in data.get("images", []):
        images_by_video[im["video_id"]].append(im)
    videos = []
    frame_index: Dict[Any, tuple] = {}
    for v in data["videos"]:
        ims = sorted(images_by_video.get(v["id"], []), key=lambda im: int(im.get("frame_id", 0)))
        if not ims:
            raise DatasetFormatError(json_file, f"video {v['id']} ({v.get('name')}) has no images")
        fids = [int(im.get("frame_id", t)) for t, im in enumerate(ims)]
        if len(set(fids)) != len(fids):
            raise DatasetFormatError(json_file, f"video {v['id']}: duplicate frame_id values")
        h, w = int(v.get("height", ims[0]["height"])), int(v.get("width", ims[0]["width"]))
        for t, im in enumerate(ims):
            if (int(im["height"]), int(im["width"])) != (h, w):
                raise DatasetFormatError(
                    json_file, f"image {im['file_name']}: size {im['width']}x{im['height']} differs from video {w}x{h}"
                )
            frame_index[im["id"]] = (v["id"], t)
        videos.append(
            {
                "video_id": str(v.get("name", v["id"])),
                "json_video_id": v["id"],
                "file_names": [os.path.join(image_root, im["file_name"]) for im in ims],
                "height": h,
                "width": w,
                "length": len(ims),
            }
        )
    return videos, frame_index


def _parse_cocovid(json_file: Optional[str], data: Mapping, image_root: str) -> Tuple[List[Dict], Dict]:
    """CocoVID: ``images`` per frame, per-image annotations with ``instance_id`` regrouped into
    tracks with per-frame segmentations (and per-frame ``area``)."""
    videos, frame_index = _cocovid_videos(json_file, data, image_root)
    lengths = {v["json_video_id"]: v["length"] for v in videos}
    tracks: Dict[Any, Dict[int, Dict]] = defaultdict(dict)
    for a in data.get("annotations") or []:
        if a["image_id"] not in frame_index:
            raise DatasetFormatError(json_file, f"annotation {a.get('id')} refers to unknown image {a['image_id']}")
        if "instance_id" not in a:
            raise DatasetFormatError(json_file, f"annotation {a.get('id')} has no instance_id (CocoVID layout)")
        vid, t = frame_index[a["image_id"]]
        iid = int(a["instance_id"])
        T = lengths[vid]
        tr = tracks[vid].setdefault(
            iid, {"category_id": a["category_id"], "segmentations": [None] * T, "iscrowd": 0, "areas": [None] * T}
        )
        if tr["segmentations"][t] is not None:
            raise DatasetFormatError(json_file, f"instance {iid} annotated twice on image {a['image_id']}")
        if a["category_id"] != tr["category_id"]:
            raise DatasetFormatError(
                json_file, f"instance {iid} changes category ({tr['category_id']} -> {a['category_id']})"
            )
        tr["segmentations"][t] = a["segmentation"]
        tr["areas"][t] = a.get("area")
        tr["iscrowd"] = max(tr["iscrowd"], int(a.get("iscrowd", 0)))
    return videos, {vid: sorted(trs.items()) for vid, trs in tracks.items()}


def read_ytvis_json(
    src: Union[str, os.PathLike, Mapping[str, Any]], what: str = ""
) -> Tuple[Mapping[str, Any], Optional[str]]:
    """(JSON dict, path or None) of a YouTube-VIS / CocoVID JSON file or already loaded dict."""
    path = None
    if isinstance(src, (str, os.PathLike)):
        path = os.fspath(src)
        src = read_json(path, what)
    if not isinstance(src, Mapping) or "videos" not in src:
        raise DatasetFormatError(path, "not a YouTube-VIS/CocoVID JSON (no 'videos')")
    return src, path


def parse_ytvis(
    data: Mapping[str, Any], json_file: Optional[str] = None, image_root: str = ""
) -> Tuple[List[Dict[str, Any]], Dict[Any, List[Tuple[int, Dict[str, Any]]]], bool]:
    """The one parser of both JSON layouts (module doc), shared by the loader and the evaluation.

    Returns ``(videos, tracks, is_cocovid)``: videos ``{"video_id" (name), "json_video_id",
    "file_names", "height", "width", "length"}``; tracks ``{json video id: [(source id, {"category_id",
    "segmentations" (as in the JSON, one per frame), "iscrowd", "areas" (per frame or None)})]}`` in
    source-id order. Every track has one segmentation per frame of its video.
    """
    is_cocovid = "images" in data and not any("file_names" in v for v in data["videos"])
    parse = _parse_cocovid if is_cocovid else _parse_ytvis
    videos, tracks = parse(json_file, data, image_root)
    for video in videos:
        T = video["length"]
        for source_id, tr in tracks.get(video["json_video_id"], []):
            segs = tr["segmentations"]
            if segs is None or len(segs) != T:
                raise DatasetFormatError(
                    json_file,
                    f"video {video['video_id']} track {source_id}: {0 if segs is None else len(segs)} "
                    f"segmentations for {T} frames",
                )
    return videos, tracks, is_cocovid


def _video_annotations(json_file: str, video: Dict[str, Any], tracks: Sequence, id_map: Mapping[int, int]) -> None:
    """Set a video dict's ``annotations`` / ``annotated`` / ``void`` from its JSON tracks."""
    h, w, T = video["height"], video["width"], video["length"]
    per_frame: List[List[Dict]] = [[] for _ in range(T)]
    crowd: List[List[Dict]] = [[] for _ in range(T)]
    for new_id, (source_id, tr) in enumerate(tracks, start=1):
        cat = int(tr["category_id"])
        if cat not in id_map:
            raise DatasetFormatError(
                json_file, f"video {video['video_id']}: category_id {cat} is not among the categories {sorted(id_map)}"
            )
        for t, seg in enumerate(tr["segmentations"]):
            if seg is None:
                continue
            rle = _to_rle(json_file, seg, h, w, f"video {video['video_id']} track {source_id} frame {t}")
            if tr["iscrowd"]:
                crowd[t].append(rle)
            else:
                per_frame[t].append(
                    {"instance_id": new_id, "source_id": source_id, "category_id": id_map[cat], "rle": rle}
                )
    video["annotations"] = [_frame_instances(items, h, w) for items in per_frame]
    video["annotated"] = [True] * T
    video["void"] = [_void(c) for c in crowd]


def _set_metadata(json_file: str, dataset_name: str, meta: Mapping[str, Any]) -> None:
    m = MetadataCatalog.get(dataset_name)
    for key, value in meta.items():
        old = getattr(m, key, None) if key in m.as_dict() else None
        if old is not None and old != value:
            raise DatasetFormatError(json_file, f"{key} differs from the one registered for {dataset_name}")
        if old is None:
            m.set(**{key: value})


def load_ytvis_json(
    json_file: str,
    image_root: str,
    dataset_name: Optional[str] = None,
    extra_categories: Optional[Sequence[Dict[str, Any]]] = None,
) -> List[Dict[str, Any]]:
    """Load YouTube-VIS / CocoVID annotations as video dicts (schema: ``uvmos/data/video_dict.py``).

    Args:
        json_file: the annotation JSON.
        image_root: folder the JSON's frame paths are relative to (not opened here).
        dataset_name: if given, sets ``thing_classes`` and ``thing_dataset_id_to_contiguous_id``
            of ``MetadataCatalog.get(dataset_name)``.
        extra_categories: known categories ``[{"id", "name"}]`` merged under the JSON's own (for
            trimmed JSONs such as the CocoVID sample, which uses "sedan" (id 6) but lists only
            two categories). An annotation whose category is in neither list is an error.
    Returns:
        list of video dicts; ``category_id`` contiguous 0-based; extra keys ``json_video_id``
        (video) and ``source_id`` (instance).
    """
    if not os.path.isfile(json_file):
        raise DatasetFormatError(json_file, "annotation JSON not found")
    timer = Timer()
    data, _ = read_ytvis_json(json_file)
    categories = _merge_categories(json_file, data.get("categories") or [], extra_categories)
    meta = ytvis_category_metadata(categories)
    videos, tracks_by_video, is_cocovid = parse_ytvis(data, json_file, image_root)
    for video in videos:
        if data.get("annotations") is None:
            video["annotations"] = None
            continue
        tracks = tracks_by_video.get(video["json_video_id"], [])
        _video_annotations(json_file, video, tracks, meta["thing_dataset_id_to_contiguous_id"])
    if dataset_name is not None:
        _set_metadata(json_file, dataset_name, meta)
    logger.info(
        "Loaded %d videos (%s layout) from %s in %.2fs",
        len(videos),
        "CocoVID" if is_cocovid else "YTVIS",
        json_file,
        timer.seconds(),
    )
    return videos
