"""DAVIS id maps in and out of the evaluation: the ground-truth folders of a DAVIS root, result
folders ``<results>/<seq>/<frame>.png``, id maps of video dicts and of model outputs, and the
unsupervised format's limit on result ids. PNGs are read by :func:`uvmos.data.io.read_id_map`."""

from __future__ import annotations

import json
import logging
import os
from typing import Any, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from uvmos.data.io import read_id_map
from uvmos.data.video_dict import DatasetFormatError, rle_to_mask

from .davis_sequence import VOID_LABEL, check_task

__all__ = [
    "find_davis_sequences",
    "sequence_frame_ids",
    "read_sequence",
    "read_results",
    "load_sequence",
    "keep_largest_ids",
    "video_dict_id_maps",
    "output_id_maps",
    "is_synthetic_root",
]

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]


# ----------------------------------------------------------------------------------------------
# DAVIS folders
# ----------------------------------------------------------------------------------------------
def _seq_dirs(d: str) -> List[str]:
    return sorted(x for x in os.listdir(d) if os.path.isdir(os.path.join(d, x)))


def _annotation_dir(root: str, task: str, resolution: str) -> Tuple[str, Optional[str]]:
    """(annotation folder of the task, note when another one stands in for it)."""
    ann_dir = os.path.join(root, "Annotations" if task == "semi-supervised" else "Annotations_unsupervised", resolution)
    semi_dir = os.path.join(root, "Annotations", resolution)
    if task == "unsupervised" and not os.path.isdir(ann_dir) and os.path.isdir(semi_dir):
        # e.g. the synthetic benchmark: one annotation set serves both tasks
        return semi_dir, (
            f"{ann_dir} not found: scoring against {semi_dir} (for DAVIS-2017 itself the "
            "unsupervised figures need Annotations_unsupervised)"
        )
    return ann_dir, None


def find_davis_sequences(
    davis_path: PathLike, task: str = "unsupervised", subset: str = "val", resolution: str = "480p"
) -> Tuple[str, List[str], Optional[str]]:
    """Locate the annotation folder and the sequences of a DAVIS root.

    ``davis_path`` may be a DAVIS root (``ImageSets/2017/<subset>.txt`` and
    ``Annotations[_unsupervised]/<resolution>/<seq>/*.png``), a root without ImageSets (all
    sequence folders of the annotation folder are used), or directly a folder of sequence folders
    of PNGs (e.g. another method's results used as ground truth).

    Returns: (annotation folder, sequence names, note or None when the official layout was used).
    """
    check_task(task)
    root = os.fspath(davis_path)
    if not os.path.isdir(root):
        raise DatasetFormatError(root, "DAVIS folder not found")
    ann_name = "Annotations" if task == "semi-supervised" else "Annotations_unsupervised"
    ann_dir, fallback_note = _annotation_dir(root, task, resolution)
    year = "2019" if task == "unsupervised" and subset in ("test-dev", "test-challenge") else "2017"
    set_file = os.path.join(root, "ImageSets", year, f"{subset}.txt")
    if os.path.isfile(set_file):
        if not os.path.isdir(ann_dir):
            raise DatasetFormatError(ann_dir, f"annotation folder for the {task} task not found")
        with open(set_file) as f:
            seqs = [line.strip() for line in f if line.strip()]
        return ann_dir, seqs, fallback_note
    if os.path.isdir(ann_dir):
        note = f"{set_file} not found: evaluating every sequence folder of {ann_dir}"
        return ann_dir, _seq_dirs(ann_dir), "; ".join(filter(None, [fallback_note, note]))
    seqs = [s for s in _seq_dirs(root) if any(f.endswith(".png") for f in os.listdir(os.path.join(root, s)))]
    if not seqs:
        raise DatasetFormatError(
            root, f"neither ImageSets/{year}/{subset}.txt, nor {ann_name}/{resolution}, nor sequence folders of PNGs"
        )
    note = f"{root} has no ImageSets/{ann_name}: using its {len(seqs)} sequence folders as ground truth"
    return root, seqs, note


def sequence_frame_ids(seq_dir: str) -> List[str]:
    """The annotation PNG names (no extension) of a sequence folder, in order."""
    if not os.path.isdir(seq_dir):
        raise DatasetFormatError(seq_dir, "sequence folder not found")
    names = sorted(f for f in os.listdir(seq_dir) if f.endswith(".png"))
    if not names:
        raise DatasetFormatError(seq_dir, "no annotation PNG in the sequence folder")
    return [n[: -len(".png")] for n in names]


def read_sequence(seq_dir: str, names: Optional[Sequence[str]] = None) -> np.ndarray:
    """(T, H, W) id maps ``<seq_dir>/<name>.png`` (default: every annotation PNG of the folder)."""
    names = sequence_frame_ids(seq_dir) if names is None else names
    return np.stack([read_id_map(os.path.join(seq_dir, f + ".png")) for f in names])


def read_results(res_dir: str, names: Sequence[str]) -> Tuple[List[Optional[np.ndarray]], List[str]]:
    """The result id maps ``<res_dir>/<name>.png`` (None where missing) and the missing names."""
    if not os.path.isdir(res_dir):
        raise DatasetFormatError(res_dir, "result folder of the sequence not found")
    res: List[Optional[np.ndarray]] = []
    missing = []
    for f in names:
        p = os.path.join(res_dir, f + ".png")
        if os.path.exists(p):
            res.append(read_id_map(p))
        else:
            res.append(None)
            missing.append(f)
    return res, missing


def load_sequence(gt_dir: str, res_dir: str) -> Tuple[np.ndarray, List[Optional[np.ndarray]], List[str]]:
    """(ground truth, results aligned with it, missing result frames) of one sequence on disk."""
    ids = sequence_frame_ids(gt_dir)
    if not os.path.isdir(res_dir):
        raise DatasetFormatError(res_dir, "result folder of the sequence not found")
    gt = read_sequence(gt_dir, ids)
    res, missing = read_results(res_dir, ids)
    if missing:
        logger.warning("%s: %d result frame(s) missing, scored as empty: %s", res_dir, len(missing), missing[:5])
    return gt, res, missing


def is_synthetic_root(path: PathLike) -> bool:
    """True when ``path`` or one of its two parents holds the synthetic generator's manifest.json
    (``path`` may be the dataset root or its ``Annotations/480p`` folder)."""
    d = os.path.abspath(os.fspath(path))
    for _ in range(3):
        m = os.path.join(d, "manifest.json")
        if os.path.isfile(m):
            try:
                with open(m) as f:
                    return json.load(f).get("generator") == "uvmos.data.synthetic"
            except (OSError, ValueError):
                return False
        d = os.path.dirname(d)
    return False


# ----------------------------------------------------------------------------------------------
# results
# ----------------------------------------------------------------------------------------------
def keep_largest_ids(
    maps: Sequence[Optional[np.ndarray]], max_ids: int = 20
) -> Tuple[List[Optional[np.ndarray]], List[int]]:
    """A video's result id maps with at most ``max_ids`` ids, as the DAVIS unsupervised format
    requires: when more ids occur (a tracker that kept discovering objects in a long video), the
    ``max_ids`` ids with the most pixels over the video are kept, renumbered 1..max_ids in their
    original order, and the others become background. Returns (maps, dropped ids)."""
    present = [m for m in maps if m is not None]
    if not present or max(int(m.max()) for m in present) <= max_ids:
        return list(maps), []
    counts = sum(np.bincount(m.ravel().astype(np.int64), minlength=256)[:256] for m in present)
    counts[0] = 0
    ids = [int(i) for i in np.nonzero(counts)[0]]
    kept = sorted(sorted(ids, key=lambda i: -counts[i])[:max_ids])
    lut = np.zeros(max(ids) + 1, dtype=np.uint8)
    lut[kept] = np.arange(1, len(kept) + 1)
    return [None if m is None else lut[m] for m in maps], [i for i in ids if i not in set(kept)]


def video_dict_id_maps(vd: Mapping[str, Any]) -> Tuple[np.ndarray, List[int]]:
    """(T', H, W) uint8 ground-truth id maps (255 = void) of the annotated frames of a video dict,
    and the indices of those frames."""
    anns = vd.get("annotations")
    if anns is None:
        raise DatasetFormatError(vd.get("video_id"), "video dict has no ground truth (annotations=None)")
    H, W = int(vd["height"]), int(vd["width"])
    annotated = vd.get("annotated") or [True] * len(anns)
    voids = vd.get("void") or [None] * len(anns)
    frames = [t for t, a in enumerate(annotated) if a]
    out = np.zeros((len(frames), H, W), dtype=np.uint8)
    for i, t in enumerate(frames):
        for inst in anns[t]:
            iid = int(inst["instance_id"])
            if not 1 <= iid < VOID_LABEL:
                raise DatasetFormatError(vd.get("video_id"), f"frame {t}: instance id {iid} outside 1..254")
            out[i][rle_to_mask(inst["segmentation"])] = iid
        if voids[t] is not None:
            out[i][rle_to_mask(voids[t])] = VOID_LABEL
    return out, frames


def _rle_id_map(instances: Optional[Mapping[int, Any]], height: int, width: int) -> Optional[np.ndarray]:
    if instances is None:
        return None
    m = np.zeros((height, width), dtype=np.int32)
    for iid, rle in instances.items():
        m[rle_to_mask(rle)] = iid
    return m


def output_id_maps(output: Mapping[str, Any], height: int, width: int) -> List[Optional[np.ndarray]]:
    """Per-frame (H, W) id maps from a video-level model output.

    Accepted keys: ``id_maps`` ((T, H, W) array/tensor or list of (H, W) arrays/tensors or None), or
    ``annotations`` (per-frame lists of {"instance_id", "segmentation": RLE}, the video dict
    schema), or ``segmentations`` (per-frame dicts {instance_id: RLE}).
    """
    if "id_maps" in output:
        return [
            None if m is None else np.asarray(m.detach().cpu().numpy() if hasattr(m, "detach") else m)
            for m in output["id_maps"]
        ]
    if "annotations" in output:
        frames = [{int(i["instance_id"]): i["segmentation"] for i in f} for f in output["annotations"]]
    elif "segmentations" in output:
        frames = [{int(k): v for k, v in f.items()} if f is not None else None for f in output["segmentations"]]
    else:
        raise KeyError("video output needs 'id_maps', 'annotations' or 'segmentations'")
    return [_rle_id_map(f, height, width) for f in frames]
