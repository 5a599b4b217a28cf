"""DAVIS-2017 J&F of one sequence: which ids are objects, per-frame J/F of every (proposal, object)
pair (:func:`uvmos.evaluation.davis_metrics.frame_scores`), the proposal-object assignment and
the per-object statistics (protocol: :mod:`uvmos.evaluation.davis`)."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from scipy.optimize import linear_sum_assignment

from uvmos.data.video_dict import DatasetFormatError

from .davis_metrics import boundary_kernel, boundary_radius, frame_scores, stats_dict
from .id_metrics import identity_counts

__all__ = ["TASKS", "OBJECT_MODES", "VOID_LABEL", "check_task", "check_objects", "evaluate_sequence"]

TASKS = ("unsupervised", "semi-supervised")
OBJECT_MODES = ("first_frame", "all")
VOID_LABEL = 255


def check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")


def check_objects(objects: str) -> None:
    if objects not in OBJECT_MODES:
        raise ValueError(f"objects must be one of {OBJECT_MODES}, got {objects!r}")


def _check_options(task: str, objects: str, void: str, extra_ids: str) -> None:
    check_task(task)
    check_objects(objects)
    if void not in ("exclude", "background"):
        raise ValueError(f"void must be 'exclude' or 'background', got {void!r}")
    if extra_ids not in ("error", "ignore"):
        raise ValueError(f"extra_ids must be 'error' or 'ignore', got {extra_ids!r}")


def _check_lengths(gt: np.ndarray, res: Sequence, name: str) -> np.ndarray:
    if gt.ndim != 3 or len(gt) == 0:
        raise DatasetFormatError(name, f"ground truth must be (T, H, W) with T >= 1, got shape {gt.shape}")
    if len(res) != len(gt):
        raise DatasetFormatError(name, f"{len(res)} result frames for {len(gt)} ground-truth frames")
    return gt


def _ids_in_any_frame(gt: np.ndarray) -> List[int]:
    """Sorted object ids (not 0, not void) that occur in any frame."""
    if gt.dtype == np.uint8:
        counts = np.bincount(gt.ravel(), minlength=256)
        ids = np.flatnonzero(counts)
    else:
        ids = np.unique(gt)
    return [int(i) for i in ids if i > 0 and i != VOID_LABEL]


def _relabel(g: np.ndarray, object_ids: Sequence[int]) -> np.ndarray:
    """uint8 map with object ``object_ids[k]`` -> k + 1, void kept as 255, everything else 0."""
    out = np.zeros(g.shape, np.uint8)
    for k, i in enumerate(object_ids):
        out[g == i] = k + 1
    out[g == VOID_LABEL] = VOID_LABEL
    return out


def _select_objects(gt: np.ndarray, objects: str) -> Tuple[np.ndarray, List[int], List[int]]:
    """(ground truth with objects numbered 1..N, their original ids, ids seen but not scored)."""
    first = gt[0]
    num_gt = int(first[first != VOID_LABEL].max(initial=0))
    seen = _ids_in_any_frame(gt)
    if objects == "all":
        object_ids, dropped = seen, []
    else:
        object_ids, dropped = list(range(1, num_gt + 1)), [i for i in seen if i > num_gt]
    if object_ids != list(range(1, len(object_ids) + 1)):  # "all" with ids missing from 1..max: -> 1..N
        gt = np.stack([_relabel(g, object_ids) for g in gt])
    return gt, object_ids, dropped


def _result_limits(
    res_frames: Sequence[Optional[np.ndarray]],
    frames: Sequence[int],
    name: str,
    shape: Tuple[int, int],
    task: str,
    num_gt: int,
    max_proposals: int,
    extra_ids: str,
) -> Tuple[int, int, int]:
    """Check the result frames; (largest result id, largest id scored, proposal rows)."""
    for t, r in zip(frames, res_frames):
        if r is not None and np.shape(r) != shape:
            raise DatasetFormatError(
                f"{name} frame {t}", f"result size {np.shape(r)} differs from ground truth {shape}"
            )
    num_res = max((int(np.max(r)) for r in res_frames if r is not None), default=0)
    if task == "unsupervised":
        if num_res > max_proposals:
            raise DatasetFormatError(
                name, f"result id {num_res} is higher than the maximum number ({max_proposals}) of proposals allowed"
            )
        return num_res, num_res, max(num_res, num_gt)
    if num_res > num_gt and extra_ids == "error":
        raise DatasetFormatError(
            name, f"result id {num_res} is higher than the number of objects ({num_gt}) in the sequence"
        )
    return num_res, num_gt, num_gt


def _frame_labels(
    g_raw: np.ndarray, r: Optional[np.ndarray], num_gt: int, res_limit: int, void: str, where: str
) -> Tuple[np.ndarray, np.ndarray]:
    """uint8 (ground-truth objects 1..num_gt, result ids 1..res_limit) of one frame; non-objects,
    ids above the limit and (``void="exclude"``) void pixels are 0."""
    void_mask = g_raw == VOID_LABEL if void == "exclude" else None
    if g_raw.dtype != np.uint8:  # e.g. 16-bit PNGs: non-objects -> 0 before the uint8 cast
        g_raw = np.where((g_raw > num_gt) | (g_raw < 0), 0, g_raw).astype(np.uint8)
    if g_raw.max(initial=0) > num_gt:  # ids above the first frame's maximum and void are not objects
        gt_lut = np.arange(256, dtype=np.uint8)
        gt_lut[num_gt + 1 :] = 0
        g_raw = gt_lut[g_raw]
    if r is None:
        r = np.zeros(g_raw.shape, dtype=np.uint8)
    else:
        r = np.asarray(r)
        if r.min(initial=0) < 0:
            raise DatasetFormatError(where, "negative result ids")
        if r.max(initial=0) > res_limit:  # ignored extra ids
            r = np.where(r > res_limit, 0, r)
        r = r.astype(np.uint8)
    if void_mask is not None and void_mask.any():
        r = np.where(void_mask, 0, r).astype(np.uint8)
    return g_raw, r


def _score_frames(
    gt: np.ndarray,
    res_frames: Sequence[Optional[np.ndarray]],
    frames: Sequence[int],
    name: str,
    task: str,
    num_gt: int,
    res_limit: int,
    num_rows: int,
    void: str,
    bound_th: float,
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(J, F) as (proposals, objects, frames) arrays, and the per-frame presence of each object
    and proposal (unsupervised only; for the identity measures)."""
    H, W = gt.shape[1:]
    radius = boundary_radius(H, W, bound_th)
    kernel = boundary_kernel(radius)
    n = len(res_frames)
    Jall, Fall = np.zeros((num_rows, num_gt, n)), np.zeros((num_rows, num_gt, n))
    gt_present, res_present = np.zeros((num_gt, n), bool), np.zeros((num_rows, n), bool)
    pairs = "diagonal" if task == "semi-supervised" else "all"
    for i, t in enumerate(frames):
        g, r = _frame_labels(gt[t], res_frames[i], num_gt, res_limit, void, f"{name} frame {t}")
        Jall[:, :, i], Fall[:, :, i] = frame_scores(g, r, num_gt, num_rows, radius, kernel, pairs=pairs)
        if task == "unsupervised":
            gt_present[:, i] = np.bincount(g.ravel(), minlength=num_gt + 1)[1 : num_gt + 1] > 0
            res_present[:, i] = np.bincount(r.ravel(), minlength=num_rows + 1)[1 : num_rows + 1] > 0
    return Jall, Fall, gt_present, res_present


def _assign(Jall: np.ndarray, Fall: np.ndarray, task: str, num_gt: int) -> Tuple[np.ndarray, List[int]]:
    """(proposal row of each object, object order of the toolkit's rows)."""
    if task == "unsupervised" and num_gt > 0:
        # same array layout and operations as the toolkit, so ties and rounding resolve alike
        score = (np.mean(Jall, axis=2) + np.mean(Fall, axis=2)) / 2
        rows, cols = linear_sum_assignment(-score)
        assigned = np.empty(num_gt, dtype=np.int64)
        assigned[cols] = rows
        return assigned, [int(c) for c in cols]  # the toolkit lists objects by proposal row
    return np.arange(num_gt), list(range(num_gt))


def _object_figures(
    name: str, object_ids: Sequence[int], assigned: np.ndarray, Jall: np.ndarray, Fall: np.ndarray
) -> List[Dict[str, Any]]:
    """Per object: its assigned proposal, per-frame J/F and their statistics."""
    objects = []
    for k, oid in enumerate(object_ids):
        j = np.ascontiguousarray(Jall[assigned[k], k])
        f = np.ascontiguousarray(Fall[assigned[k], k])
        obj = {
            "name": f"{name}_{oid}",
            "object_id": oid,
            "proposal_id": int(assigned[k]) + 1,
            "J_frames": j,
            "F_frames": f,
        }
        obj.update(stats_dict(j, f))
        objects.append(obj)
    return objects


def _score_sequence(gt, res_frames, frames, name, task, num_gt, max_proposals, extra_ids, void, bound_th):
    """The result ids' count and limits (:func:`_result_limits`), then J and F of every (object,
    result id) pair per frame (:func:`_score_frames`): (num_res, Jall, Fall, gt_present, res_present)."""
    num_res, res_limit, num_rows = _result_limits(
        res_frames, frames, name, gt.shape[1:], task, num_gt, max_proposals, extra_ids
    )
    Jall, Fall, gt_present, res_present = _score_frames(
        gt, res_frames, frames, name, task, num_gt, res_limit, num_rows, void, bound_th
    )
    return num_res, Jall, Fall, gt_present, res_present


def evaluate_sequence(
    gt: np.ndarray,
    res: Union[np.ndarray, Sequence[Optional[np.ndarray]]],
    task: str = "unsupervised",
    *,
    name: str = "sequence",
    void: str = "exclude",
    extra_ids: str = "error",
    max_proposals: int = 20,
    bound_th: float = 0.008,
    objects: str = "first_frame",
) -> Dict[str, Any]:
    """Score one sequence.

    Args:
        gt: (T, H, W) ground-truth id maps of the annotated frames (255 = void).
        res: (T, H, W) result id maps, or a length-T list whose ``None`` entries are missing frames.
        task: "unsupervised" or "semi-supervised".
        name: sequence name (objects are reported as ``<name>_<k>``; errors name it).
        void: "exclude" (void pixels count for nothing) or "background" (void is background, as
            the toolkit's code effectively does: it zeroes 255 before building its void mask).
        extra_ids: semi-supervised only: "error" on result ids above the number of objects (as
            the toolkit) or "ignore" them (treated as background).
        max_proposals: unsupervised only: more result ids than this is an error.
        objects: "first_frame" (official: ids 1..max id of frame 0) or "all" (every id of any
            frame; ids are scored in increasing order and named by their own value).

    Returns:
        dict with ``objects``: list (object order 1..N) of dicts ``name``, ``object_id``,
        ``proposal_id`` (assigned result id), ``J_frames``, ``F_frames`` (per-frame values) and
        the statistics "J", "J-Recall", "J-Decay", "F", "F-Recall", "F-Decay" (J and F are the
        means); ``num_frames``, ``num_objects``, ``num_proposals``; ``official_order``: object
        indices in the toolkit's row order (for bit-identical global sums); ``objects_mode``;
        ``dropped_objects``: ids seen in some frame but not scored (``"first_frame"`` only);
        ``identity``: unsupervised only, the CLEAR/Identity counts of
        :func:`uvmos.evaluation.id_metrics.identity_counts` over the scored objects and all result ids.
    """
    _check_options(task, objects, void, extra_ids)
    gt = _check_lengths(np.asarray(gt), res, name)
    gt, object_ids, dropped = _select_objects(gt, objects)
    num_gt = len(object_ids)
    frames = range(1, len(gt) - 1) if task == "semi-supervised" else range(len(gt))
    res_frames = [res[t] for t in frames]
    num_res, Jall, Fall, gt_present, res_present = _score_sequence(
        gt, res_frames, frames, name, task, num_gt, max_proposals, extra_ids, void, bound_th
    )
    assigned, official_order = _assign(Jall, Fall, task, num_gt)
    return {
        "name": name,
        "objects": _object_figures(name, object_ids, assigned, Jall, Fall),
        "official_order": official_order,
        "num_frames": len(res_frames),
        "num_objects": num_gt,
        "num_proposals": num_res,
        "objects_mode": objects,
        "dropped_objects": dropped,
        "identity": identity_counts(Jall, gt_present, res_present) if task == "unsupervised" else None,
    }
