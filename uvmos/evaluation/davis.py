"""DAVIS-2017 J&F (Tables 1, 2 of the paper), as the official davis2017-evaluation toolkit computes it.

Protocol (see docs/evaluation.md for every choice and where we deliberately differ):

* ground truth of a sequence: its annotation PNGs in file-name order (frames are counted from the
  annotations, JPEGImages are not needed); value 255 is void; which ids are objects is set by
  ``objects``: ``"first_frame"`` (the official rule, the toolkit's): ids 1..the largest id of the
  *first* annotation frame, so objects that enter later are not scored (a note says which);
  ``"all"``: every id seen in any annotated frame (the default of the synthetic benchmarks, whose
  objects enter and leave; set by the ``eval_objects`` key of their dataset metadata / video dicts);
* results: ``<results>/<seq>/<frame>.png`` id maps (palette or gray, 0 background); a missing
  result frame or a missing id is an empty mask;
* ``task="unsupervised"``: every frame is scored; more than ``max_proposals`` (20) result ids is an
  error; proposals are padded with empty masks up to the number of objects; one Hungarian
  assignment per sequence (``scipy.optimize.linear_sum_assignment``) maximising the mean over
  frames of (J + F) / 2 between every proposal and every object;
* ``task="semi-supervised"``: result id k is object k; first and last frames are not scored;
  ids above the number of objects are an error (or ignored with ``extra_ids="ignore"``);
* per object: J/F mean, recall (fraction of frames > 0.5), decay (mean of the first minus the last
  of four temporal bins); global figures are means over all objects, J&F-Mean their average;
* unsupervised only, identity errors next to J&F (:mod:`uvmos.evaluation.id_metrics`, trackeval's
  CLEAR and Identity on mask IoU): ``IDF1``, ``IDSW`` (ID switches, summed over sequences), ``MOTA``.

Entry points: :func:`evaluate_davis` (paths or in-memory arrays), :func:`evaluate_sequence` (one
sequence's id maps), :class:`DAVISResult` (CSV/JSON writers) and :class:`DAVISEvaluator`
(a detectron2 ``DatasetEvaluator`` for video-level outputs).
"""
from __future__ import annotations

import csv
import io
import json
import logging
import multiprocessing as mp
import os
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from PIL import Image
from scipy.optimize import linear_sum_assignment

from uvmos.data.video_dict import DatasetFormatError, rle_to_mask

from .davis_metrics import boundary_kernel, boundary_radius, frame_scores, stats_dict
from .id_metrics import ID_MEASURES, combine_identity, identity_counts

__all__ = [
    "TASKS",
    "OBJECT_MODES",
    "GLOBAL_MEASURES",
    "DAVISResult",
    "DAVISEvaluator",
    "evaluate_davis",
    "evaluate_sequence",
    "find_davis_sequences",
    "read_id_map",
    "read_id_maps",
    "output_id_maps",
    "video_dict_id_maps",
]

logger = logging.getLogger(__name__)

TASKS = ("unsupervised", "semi-supervised")
OBJECT_MODES = ("first_frame", "all")
GLOBAL_MEASURES = ("J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay")
VOID_LABEL = 255
PathLike = Union[str, os.PathLike]


# ----------------------------------------------------------------------------------------------
# reading
# ----------------------------------------------------------------------------------------------
def read_id_map(path: PathLike) -> np.ndarray:
    """An (H, W) id map from a palette / 8- or 16-bit gray PNG (LA: channel 0), as int array."""
    try:
        with Image.open(path) as im:
            mode = im.mode
            arr = np.array(im)
    except (OSError, ValueError) as e:
        raise DatasetFormatError(path, f"cannot read id map: {e}") from None
    if arr.ndim == 3:
        if mode != "LA":
            raise DatasetFormatError(
                path, f"{mode} image: expected a palette or gray id map (pixel value = object id)"
            )
        arr = arr[..., 0]
    return arr


def read_id_maps(folder: PathLike) -> List[np.ndarray]:
    """Every ``*.png`` id map of a result folder, in frame-name order (other files are ignored)."""
    return [read_id_map(os.path.join(folder, f)) for f in sorted(os.listdir(folder)) if f.endswith(".png")]


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
    _check_task(task)
    root = os.fspath(davis_path)
    if not os.path.isdir(root):
        raise DatasetFormatError(root, "DAVIS folder not found")
    ann_name = "Annotations" if task == "semi-supervised" else "Annotations_unsupervised"
    ann_dir = os.path.join(root, ann_name, resolution)
    year = "2019" if task == "unsupervised" and subset in ("test-dev", "test-challenge") else "2017"
    set_file = os.path.join(root, "ImageSets", year, f"{subset}.txt")
    fallback_note = None
    semi_dir = os.path.join(root, "Annotations", resolution)
    if task == "unsupervised" and not os.path.isdir(ann_dir) and os.path.isdir(semi_dir):
        # e.g. the synthetic benchmark: one annotation set serves both tasks
        fallback_note = (f"{ann_dir} not found: scoring against {semi_dir} (for DAVIS-2017 itself the "
                         "unsupervised figures need Annotations_unsupervised)")
        ann_dir = semi_dir
    if os.path.isfile(set_file):
        if not os.path.isdir(ann_dir):
            raise DatasetFormatError(ann_dir, f"annotation folder for the {task} task not found")
        with open(set_file) as f:
            seqs = [line.strip() for line in f if line.strip()]
        return ann_dir, seqs, fallback_note

    def seq_dirs(d):
        return sorted(x for x in os.listdir(d) if os.path.isdir(os.path.join(d, x)))

    if os.path.isdir(ann_dir):
        note = f"{set_file} not found: evaluating every sequence folder of {ann_dir}"
        return ann_dir, seq_dirs(ann_dir), "; ".join(filter(None, [fallback_note, note]))
    seqs = [s for s in seq_dirs(root) if any(f.endswith(".png") for f in os.listdir(os.path.join(root, s)))]
    if not seqs:
        raise DatasetFormatError(
            root, f"neither ImageSets/{year}/{subset}.txt, nor {ann_name}/{resolution}, nor sequence folders of PNGs"
        )
    note = f"{root} has no ImageSets/{ann_name}: using its {len(seqs)} sequence folders as ground truth"
    return root, seqs, note


def _frame_ids(seq_dir: str) -> List[str]:
    if not os.path.isdir(seq_dir):
        raise DatasetFormatError(seq_dir, "sequence folder not found")
    names = sorted(f for f in os.listdir(seq_dir) if f.endswith(".png"))
    if not names:
        raise DatasetFormatError(seq_dir, "no annotation PNG in the sequence folder")
    return [n[: -len(".png")] for n in names]


def _load_sequence(gt_dir: str, res_dir: str) -> Tuple[np.ndarray, List[Optional[np.ndarray]], List[str]]:
    ids = _frame_ids(gt_dir)
    if not os.path.isdir(res_dir):
        raise DatasetFormatError(res_dir, "result folder of the sequence not found")
    gt = np.stack([read_id_map(os.path.join(gt_dir, f + ".png")) for f in ids])
    res: List[Optional[np.ndarray]] = []
    missing = []
    for f in ids:
        p = os.path.join(res_dir, f + ".png")
        if os.path.exists(p):
            res.append(read_id_map(p))
        else:
            res.append(None)
            missing.append(f)
    if missing:
        logger.warning("%s: %d result frame(s) missing, scored as empty: %s", res_dir, len(missing), missing[:5])
    return gt, res, missing


# ----------------------------------------------------------------------------------------------
# one sequence
# ----------------------------------------------------------------------------------------------
def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")


def _check_objects(objects: str) -> None:
    if objects not in OBJECT_MODES:
        raise ValueError(f"objects must be one of {OBJECT_MODES}, got {objects!r}")


def _ids_in_any_frame(gt: np.ndarray) -> List[int]:
    """Sorted object ids (not 0, not void) that occur in any frame."""
    if gt.dtype == np.uint8:
        counts = np.bincount(gt.ravel(), minlength=256)
        ids = np.flatnonzero(counts)
    else:
        ids = np.unique(gt)
    return [int(i) for i in ids if i > 0 and i != VOID_LABEL]


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
    _check_task(task)
    _check_objects(objects)
    objects_mode = objects
    if void not in ("exclude", "background"):
        raise ValueError(f"void must be 'exclude' or 'background', got {void!r}")
    if extra_ids not in ("error", "ignore"):
        raise ValueError(f"extra_ids must be 'error' or 'ignore', got {extra_ids!r}")
    gt = np.asarray(gt)
    if gt.ndim != 3 or len(gt) == 0:
        raise DatasetFormatError(name, f"ground truth must be (T, H, W) with T >= 1, got shape {gt.shape}")
    T, H, W = gt.shape
    if len(res) != T:
        raise DatasetFormatError(name, f"{len(res)} result frames for {T} ground-truth frames")
    first = gt[0]
    num_gt = int(first[first != VOID_LABEL].max(initial=0))
    seen = _ids_in_any_frame(gt)
    if objects_mode == "all":
        object_ids, dropped = seen, []
    else:
        object_ids, dropped = list(range(1, num_gt + 1)), [i for i in seen if i > num_gt]
    num_gt = len(object_ids)
    if object_ids != list(range(1, num_gt + 1)):  # "all" with ids missing from 1..max: objects -> 1..N
        gt = np.stack([_relabel(g, object_ids) for g in gt])

    frames = range(1, T - 1) if task == "semi-supervised" else range(T)
    res_frames = [res[t] for t in frames]
    for t, r in zip(frames, res_frames):
        if r is not None and np.shape(r) != (H, W):
            raise DatasetFormatError(f"{name} frame {t}", f"result size {np.shape(r)} differs from ground truth {(H, W)}")
    num_res = max((int(np.max(r)) for r in res_frames if r is not None), default=0)
    if task == "unsupervised":
        if num_res > max_proposals:
            raise DatasetFormatError(
                name, f"result id {num_res} is higher than the maximum number ({max_proposals}) of proposals allowed"
            )
        res_limit = num_res
        num_rows = max(num_res, num_gt)
    else:
        if num_res > num_gt and extra_ids == "error":
            raise DatasetFormatError(
                name, f"result id {num_res} is higher than the number of objects ({num_gt}) in the sequence"
            )
        res_limit = num_gt
        num_rows = num_gt

    radius = boundary_radius(H, W, bound_th)
    kernel = boundary_kernel(radius)
    n = len(res_frames)
    Jall = np.zeros((num_rows, num_gt, n))
    Fall = np.zeros((num_rows, num_gt, n))
    gt_present = np.zeros((num_gt, n), bool)  # for the identity measures
    res_present = np.zeros((num_rows, n), bool)
    gt_lut = np.arange(256, dtype=np.uint8)
    gt_lut[num_gt + 1 :] = 0  # ids above the first frame's maximum and void (255) are not objects
    for i, t in enumerate(frames):
        g_raw = gt[t]
        void_mask = g_raw == VOID_LABEL if void == "exclude" else None
        if g_raw.dtype != np.uint8:  # e.g. 16-bit PNGs: non-objects -> 0 before the uint8 cast
            g_raw = np.where((g_raw > num_gt) | (g_raw < 0), 0, g_raw).astype(np.uint8)
        g = gt_lut[g_raw] if g_raw.max(initial=0) > num_gt else g_raw
        r = res_frames[i]
        if r is None:
            r = np.zeros((H, W), dtype=np.uint8)
        else:
            r = np.asarray(r)
            if r.min(initial=0) < 0:
                raise DatasetFormatError(f"{name} frame {t}", "negative result ids")
            if num_res > res_limit:  # ignored extra ids
                r = np.where(r > res_limit, 0, r)
            r = r.astype(np.uint8)
        if void_mask is not None and void_mask.any():
            r = np.where(void_mask, 0, r).astype(np.uint8)
        pairs = "diagonal" if task == "semi-supervised" else "all"
        J, F = frame_scores(g, r, num_gt, num_rows, radius, kernel, pairs=pairs)
        Jall[:, :, i] = J
        Fall[:, :, i] = F
        if task == "unsupervised":
            gt_present[:, i] = np.bincount(g.ravel(), minlength=num_gt + 1)[1 : num_gt + 1] > 0
            res_present[:, i] = np.bincount(r.ravel(), minlength=num_rows + 1)[1 : num_rows + 1] > 0

    if task == "unsupervised" and num_gt > 0:
        # same array layout and operations as the toolkit, so ties and rounding resolve alike
        score = (np.mean(Jall, axis=2) + np.mean(Fall, axis=2)) / 2
        rows, cols = linear_sum_assignment(-score)
        assigned = np.empty(num_gt, dtype=np.int64)
        assigned[cols] = rows
        official_order = [int(c) for c in cols]  # the toolkit lists objects by proposal row
    else:
        assigned = np.arange(num_gt)
        official_order = list(range(num_gt))

    objects = []
    for k in range(num_gt):
        j = np.ascontiguousarray(Jall[assigned[k], k])
        f = np.ascontiguousarray(Fall[assigned[k], k])
        oid = object_ids[k]
        obj = {"name": f"{name}_{oid}", "object_id": oid, "proposal_id": int(assigned[k]) + 1, "J_frames": j, "F_frames": f}
        obj.update(stats_dict(j, f))
        objects.append(obj)
    return {
        "name": name,
        "objects": objects,
        "official_order": official_order,
        "num_frames": n,
        "num_objects": num_gt,
        "num_proposals": num_res,
        "objects_mode": objects_mode,
        "dropped_objects": dropped,
        "identity": identity_counts(Jall, gt_present, res_present) if task == "unsupervised" else None,
    }


def keep_largest_ids(maps: Sequence[Optional[np.ndarray]], max_ids: int = 20) -> Tuple[List[Optional[np.ndarray]], List[int]]:
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


def _relabel(g: np.ndarray, object_ids: Sequence[int]) -> np.ndarray:
    """uint8 map with object ``object_ids[k]`` -> k + 1, void kept as 255, everything else 0."""
    out = np.zeros(g.shape, np.uint8)
    for k, i in enumerate(object_ids):
        out[g == i] = k + 1
    out[g == VOID_LABEL] = VOID_LABEL
    return out


# ----------------------------------------------------------------------------------------------
# result container and writers
# ----------------------------------------------------------------------------------------------
def _fmt(x: float) -> str:
    """pandas ``to_csv(float_format="%.3f")`` formatting (NaN is an empty field)."""
    return "" if x is None or np.isnan(x) else "%.3f" % x


def _atomic_write_text(path: PathLike, text: str) -> None:
    """Write ``text`` to a temporary name next to ``path`` and rename it into place."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


class DAVISResult:
    """Figures of one DAVIS evaluation.

    Attributes:
        global_figures: OrderedDict over :data:`GLOBAL_MEASURES`, then (unsupervised) the identity
            measures ``IDF1``, ``IDSW``, ``MOTA`` (:data:`uvmos.evaluation.id_metrics.ID_MEASURES`).
        identity: {sequence: CLEAR/Identity counts} (unsupervised).
        per_object: OrderedDict ``"<seq>_<k>"`` -> {"J", "J-Recall", "J-Decay", "F", "F-Recall",
            "F-Decay", "proposal_id"} in sequence order, objects in ground-truth order.
        sequences: per-sequence dicts as returned by :func:`evaluate_sequence` (with per-frame
            arrays).
        task, subset, notes.
    """

    def __init__(self, sequences: List[Dict[str, Any]], task: str, subset: str = "val", notes: Sequence[str] = ()):
        self.sequences = sequences
        self.task = task
        self.subset = subset
        self.notes = list(notes)
        self.per_object: "OrderedDict[str, Dict[str, float]]" = OrderedDict()
        stats = {k: [] for k in ("J", "J-Recall", "J-Decay", "F", "F-Recall", "F-Decay")}
        for seq in sequences:
            for o in seq["objects"]:
                self.per_object[o["name"]] = {k: o[k] for k in stats} | {"proposal_id": o["proposal_id"]}
            for idx in seq["official_order"]:  # toolkit order, so the float sums agree to the bit
                o = seq["objects"][idx]
                for k in stats:
                    stats[k].append(o[k])
        with np.errstate(all="ignore"):
            m = {k: float(np.mean(v)) if v else float("nan") for k, v in stats.items()}
        self.global_figures = OrderedDict(
            [
                ("J&F-Mean", (m["J"] + m["F"]) / 2.0),
                ("J-Mean", m["J"]),
                ("J-Recall", m["J-Recall"]),
                ("J-Decay", m["J-Decay"]),
                ("F-Mean", m["F"]),
                ("F-Recall", m["F-Recall"]),
                ("F-Decay", m["F-Decay"]),
            ]
        )
        self.identity = {seq["name"]: seq["identity"] for seq in sequences if seq.get("identity") is not None}
        if sequences and len(self.identity) == len(sequences):
            self.global_figures.update(combine_identity(list(self.identity.values())))
        self.objects_modes = sorted({seq.get("objects_mode", "first_frame") for seq in sequences})
        self.dropped_objects = {seq["name"]: list(seq["dropped_objects"]) for seq in sequences if seq.get("dropped_objects")}
        if self.dropped_objects:
            n = sum(len(v) for v in self.dropped_objects.values())
            note = (
                f"{n} object(s) in {len(self.dropped_objects)} sequence(s) do not appear in the first frame and were not "
                "scored (official DAVIS rule, objects='first_frame'): "
                + ", ".join(f"{k} (id {', '.join(map(str, v))})" for k, v in self.dropped_objects.items())
                + "; objects='all' scores them"
            )
            self.notes.append(note)
            logger.warning(note)

    # the two CSVs of the official tool
    def global_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(GLOBAL_MEASURES)
        w.writerow([_fmt(self.global_figures[k]) for k in GLOBAL_MEASURES])
        return buf.getvalue()

    def per_sequence_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["Sequence", "J-Mean", "F-Mean"])
        for name, o in self.per_object.items():
            w.writerow([name, _fmt(o["J"]), _fmt(o["F"])])
        return buf.getvalue()

    def write_csvs(self, out_dir: PathLike) -> Tuple[str, str]:
        """Write ``global_results-<set>.csv`` and ``per-sequence_results-<set>.csv`` into ``out_dir``."""
        g = os.path.join(os.fspath(out_dir), f"global_results-{self.subset}.csv")
        s = os.path.join(os.fspath(out_dir), f"per-sequence_results-{self.subset}.csv")
        _atomic_write_text(g, self.global_csv())
        _atomic_write_text(s, self.per_sequence_csv())
        return g, s

    def to_json_dict(self) -> Dict[str, Any]:
        return {
            "task": self.task,
            "set": self.subset,
            "global": dict(self.global_figures),
            "per_object": {k: dict(v) for k, v in self.per_object.items()},
            "objects": self.objects_modes,
            "dropped_objects": self.dropped_objects,
            "identity": self.identity,
            "notes": self.notes,
        }

    def write_json(self, path: PathLike) -> None:
        def clean(x):
            if isinstance(x, dict):
                return {k: clean(v) for k, v in x.items()}
            if isinstance(x, list):
                return [clean(v) for v in x]
            if isinstance(x, float) and np.isnan(x):
                return None
            return x

        _atomic_write_text(path, json.dumps(clean(self.to_json_dict()), indent=1) + "\n")

    def format_tables(self) -> str:
        """Console tables like the official script's."""
        lines = [f"--------------------------- Global results for {self.subset} ---------------------------"]
        lines.append(" ".join(f"{k:>9}" for k in GLOBAL_MEASURES))
        lines.append(" ".join(f"{self.global_figures[k]:>9.6f}" for k in GLOBAL_MEASURES))
        if "IDF1" in self.global_figures:
            lines.append(" ".join(f"{k:>9}" for k in ID_MEASURES))
            lines.append(" ".join(f"{self.global_figures[k]:>9.6f}" for k in ID_MEASURES))
        lines.append(f"\n---------- Per sequence results for {self.subset} ----------")
        width = max([len("Sequence")] + [len(k) for k in self.per_object])
        lines.append(f"{'Sequence':>{width}}   J-Mean   F-Mean")
        for k, o in self.per_object.items():
            lines.append(f"{k:>{width}} {o['J']:8.6f} {o['F']:8.6f}")
        return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# whole data set
# ----------------------------------------------------------------------------------------------
def _worker_init() -> None:
    import cv2

    cv2.setNumThreads(1)


def _eval_from_disk(job) -> Dict[str, Any]:
    seq, gt_dir, res_dir, task, kw = job
    gt, res, missing = _load_sequence(gt_dir, res_dir)
    out = evaluate_sequence(gt, res, task, name=seq, **kw)
    out["missing_frames"] = missing
    return out


def _eval_in_memory(job) -> Dict[str, Any]:
    seq, gt, res, task, kw = job
    return evaluate_sequence(gt, res, task, name=seq, **kw)


def _map(fn, jobs, num_workers: int, costs: Sequence[float]):
    """Run ``fn`` over ``jobs`` with a process pool (largest jobs first), results in job order.

    ``concurrent.futures`` rather than ``multiprocessing.Pool``: an exception in a worker is raised
    here (the first one, in job order of completion) and a worker that dies (killed, out of memory)
    raises ``BrokenProcessPool`` instead of hanging the pool.
    """
    if num_workers <= 1 or len(jobs) <= 1:
        return [fn(j) for j in jobs]
    from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

    order = sorted(range(len(jobs)), key=lambda i: -costs[i])
    methods = mp.get_all_start_methods()
    ctx = mp.get_context("fork" if "fork" in methods else None)
    out: List[Any] = [None] * len(jobs)
    import cv2

    # OpenCV's thread pool does not survive fork: a forked child that touches it (setNumThreads,
    # or any parallel cv2 call) deadlocks when the parent's pool threads were running (e.g. after
    # a model ran in this process). Stop them before forking; restored afterwards.
    cv2_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    pool = ProcessPoolExecutor(min(num_workers, len(jobs)), mp_context=ctx, initializer=_worker_init)
    try:
        futures = {pool.submit(fn, jobs[i]): i for i in order}
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for f in done:
            if f.exception() is not None:
                raise f.exception()
        for f, i in futures.items():
            out[i] = f.result()
    except BaseException:  # an error, Ctrl-C or a timeout: stop the workers, do not wait for them
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        cv2.setNumThreads(cv2_threads)
    pool.shutdown(wait=True)
    return out


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


def dataset_objects_mode(dataset_name: str) -> Optional[str]:
    """The ``eval_objects`` of a registered dataset's metadata ("all" on the synthetic sets), or None."""
    from detectron2.data import MetadataCatalog

    return MetadataCatalog.get(dataset_name).get("eval_objects", None)


def _seq_cost(gt_dir: str) -> float:
    try:
        return float(len(os.listdir(gt_dir)))
    except OSError:
        return 0.0


def evaluate_davis(
    gt: Union[PathLike, Sequence[Mapping[str, Any]], Mapping[str, np.ndarray]],
    results: Union[PathLike, Mapping[str, Any]],
    task: str = "unsupervised",
    *,
    subset: str = "val",
    sequences: Optional[Sequence[str]] = None,
    resolution: str = "480p",
    void: str = "exclude",
    extra_ids: str = "error",
    max_proposals: int = 20,
    bound_th: float = 0.008,
    num_workers: Optional[int] = None,
    objects: Optional[str] = None,
    dataset_name: Optional[str] = None,
) -> DAVISResult:
    """DAVIS-2017 J&F of ``results`` against ``gt``.

    Args:
        gt: a DAVIS root / folder of sequence folders (see :func:`find_davis_sequences`), a list of
            video dicts (uvmos/data/video_dict.py schema; instance ids are object ids, ``void``
            RLEs become 255, only ``annotated`` frames are scored), or {seq: (T, H, W) id maps}.
        results: a folder ``<seq>/<frame>.png`` (frame = annotation file name; for video dicts
            the frame file's stem, else the 5-digit frame index), or {seq: (T, H, W) array | list
            of (H, W) arrays or None (missing frame)} aligned with the ground-truth frames.
        task: "unsupervised" | "semi-supervised".
        sequences: restrict to these sequences (default: the whole set).
        num_workers: processes over sequences (default: all CPU cores).
        void, extra_ids, max_proposals, bound_th: see :func:`evaluate_sequence`.
        objects: "first_frame" (official) or "all" (every object of any frame), see
            :func:`evaluate_sequence`. Default: the ``eval_objects`` metadata of ``dataset_name``,
            else each video dict's ``eval_objects`` key, else "all" for a synthetic root (its
            manifest.json), else "first_frame". The uvmos_synth* datasets set "all".
        dataset_name: a registered dataset whose metadata gives the default ``objects``.
    """
    _check_task(task)
    if objects is None and dataset_name is not None:
        objects = dataset_objects_mode(dataset_name)
    if objects is not None:
        _check_objects(objects)
    kw = dict(void=void, extra_ids=extra_ids, max_proposals=max_proposals, bound_th=bound_th)
    seq_objects: Dict[str, str] = {}  # per-sequence mode when objects is None
    notes: List[str] = []
    num_workers = (os.cpu_count() or 1) if num_workers is None else int(num_workers)

    if isinstance(gt, (str, os.PathLike)):
        if objects is None:
            objects = "all" if is_synthetic_root(gt) else "first_frame"
        kw["objects"] = objects
        ann_dir, seqs, note = find_davis_sequences(gt, task, subset, resolution)
        if note:
            notes.append(note)
        if sequences is not None:
            unknown = sorted(set(sequences) - set(seqs))
            if unknown:
                raise DatasetFormatError(ann_dir, f"unknown sequences {unknown}")
            seqs = [s for s in seqs if s in set(sequences)]
        if isinstance(results, (str, os.PathLike)):
            res_root = os.fspath(results)
            if not os.path.isdir(res_root):
                raise DatasetFormatError(res_root, "results folder not found")
            absent = [s for s in seqs if not os.path.isdir(os.path.join(res_root, s))]
            if absent and len(absent) == len(seqs):
                raise DatasetFormatError(res_root, f"holds none of the {len(seqs)} sequence folders ({', '.join(seqs[:3])}...)")
            if absent:  # checked here, before the pool, so the first missing one is named
                raise DatasetFormatError(os.path.join(res_root, absent[0]), "result folder of the sequence not found")
            jobs = [(s, os.path.join(ann_dir, s), os.path.join(res_root, s), task, kw) for s in seqs]
            seq_results = _map(_eval_from_disk, jobs, num_workers, [_seq_cost(j[1]) for j in jobs])
            for r in seq_results:
                if r["missing_frames"]:
                    notes.append(f"{r['name']}: {len(r['missing_frames'])} missing result frame(s) scored as empty")
            return DAVISResult(seq_results, task, subset, notes)
        gt_arrays, frame_names = OrderedDict(), {}
        for s in seqs:
            d = os.path.join(ann_dir, s)
            frame_names[s] = _frame_ids(d)
            gt_arrays[s] = np.stack([read_id_map(os.path.join(d, f + ".png")) for f in frame_names[s]])
    elif isinstance(gt, Mapping):
        gt_arrays = OrderedDict((k, np.asarray(v)) for k, v in gt.items())
        frame_names = {k: [f"{t:05d}" for t in range(len(v))] for k, v in gt_arrays.items()}
    else:
        gt_arrays, frame_names = OrderedDict(), {}
        for vd in gt:
            vid = str(vd["video_id"])
            gt_arrays[vid], idx = video_dict_id_maps(vd)
            seq_objects[vid] = vd.get("eval_objects") or "first_frame"
            files = vd.get("file_names")
            frame_names[vid] = [os.path.splitext(os.path.basename(files[t]))[0] if files else f"{t:05d}" for t in idx]
    if sequences is not None:
        unknown = sorted(set(sequences) - set(gt_arrays))
        if unknown:
            raise DatasetFormatError(None, f"unknown sequences {unknown}")
        gt_arrays = OrderedDict((k, gt_arrays[k]) for k in sequences)

    jobs = []
    for s, g in gt_arrays.items():
        if isinstance(results, (str, os.PathLike)):
            # in-memory ground truth, results on disk: <results>/<seq>/<frame name>.png
            d = os.path.join(os.fspath(results), s)
            if not os.path.isdir(d):
                raise DatasetFormatError(d, "result folder of the sequence not found")
            res = [read_id_map(os.path.join(d, f + ".png")) if os.path.exists(os.path.join(d, f + ".png")) else None
                   for f in frame_names[s]]
            if any(r is None for r in res):
                notes.append(f"{s}: {sum(r is None for r in res)} missing result frame(s) scored as empty")
        elif s in results:
            res = results[s]
            if task == "unsupervised":
                res, dropped = keep_largest_ids(list(res), max_proposals)
                if dropped:
                    notes.append(f"{s}: {len(dropped) + max_proposals} result ids; the {max_proposals} largest scored")
        else:
            raise DatasetFormatError(None, f"no results for sequence {s!r}")
        jobs.append((s, g, res, task, dict(kw, objects=objects or seq_objects.get(s, "first_frame"))))
    seq_results = _map(_eval_in_memory, jobs, num_workers, [len(j[1]) for j in jobs])
    return DAVISResult(seq_results, task, subset, notes)


# ----------------------------------------------------------------------------------------------
# video dicts and model outputs
# ----------------------------------------------------------------------------------------------
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


def output_id_maps(output: Mapping[str, Any], height: int, width: int) -> List[Optional[np.ndarray]]:
    """Per-frame (H, W) id maps from a video-level model output.

    Accepted keys: ``id_maps`` ((T, H, W) array/tensor or list of (H, W) arrays/tensors or None), or
    ``annotations`` (per-frame lists of {"instance_id", "segmentation": RLE}, the video dict
    schema), or ``segmentations`` (per-frame dicts {instance_id: RLE}).
    """
    if "id_maps" in output:
        maps = output["id_maps"]
        out = []
        for m in maps:
            if m is None:
                out.append(None)
                continue
            if hasattr(m, "detach"):
                m = m.detach().cpu().numpy()
            out.append(np.asarray(m))
        return out
    if "annotations" in output:
        frames = [{int(i["instance_id"]): i["segmentation"] for i in f} for f in output["annotations"]]
    elif "segmentations" in output:
        frames = [{int(k): v for k, v in f.items()} if f is not None else None for f in output["segmentations"]]
    else:
        raise KeyError("video output needs 'id_maps', 'annotations' or 'segmentations'")
    out = []
    for f in frames:
        if f is None:
            out.append(None)
            continue
        m = np.zeros((height, width), dtype=np.int32)
        for iid, rle in f.items():
            m[rle_to_mask(rle)] = iid
        out.append(m)
    return out


try:
    from detectron2.evaluation import DatasetEvaluator as _DatasetEvaluator
except ImportError:  # pragma: no cover - detectron2 is a hard dependency of uvmos
    _DatasetEvaluator = object


class DAVISEvaluator(_DatasetEvaluator):
    """detectron2 ``DatasetEvaluator`` of DAVIS-2017 J&F over video-level outputs.

    ``process(inputs, outputs)`` takes, per video, an input with ``video_id`` and an output with
    per-frame id maps (see :func:`output_id_maps`); each video is scored immediately (only its
    per-object figures are kept). ``evaluate()`` returns ``{"davis": {"J&F-Mean": ..., ...}}`` and,
    with ``output_dir``, writes the two official CSVs and ``davis_results.json`` there.

    Ground truth: ``dataset_name`` (a ``DatasetCatalog`` entry of video dicts) or ``gt_root`` (a
    DAVIS root or folder of sequence folders; frame k of the output is annotation file k).
    ``objects`` ("first_frame" | "all", see :func:`evaluate_sequence`) defaults as in
    :func:`evaluate_davis`: the dataset's ``eval_objects`` metadata ("all" on the synthetic sets).
    """

    def __init__(
        self,
        dataset_name: Optional[str] = None,
        *,
        gt_root: Optional[PathLike] = None,
        task: str = "unsupervised",
        subset: str = "val",
        output_dir: Optional[PathLike] = None,
        void: str = "exclude",
        extra_ids: str = "error",
        max_proposals: int = 20,
        distributed: bool = True,
        objects: Optional[str] = None,
    ):
        _check_task(task)
        if (dataset_name is None) == (gt_root is None):
            raise ValueError("give exactly one of dataset_name or gt_root")
        self._dataset_name = dataset_name
        self._gt_root = gt_root
        self._task = task
        self._subset = subset
        self._output_dir = output_dir
        self._kw = dict(void=void, extra_ids=extra_ids, max_proposals=max_proposals)
        if objects is not None:
            _check_objects(objects)
        elif dataset_name is not None:
            objects = dataset_objects_mode(dataset_name)
        else:
            objects = "all" if is_synthetic_root(gt_root) else "first_frame"
        self._objects = objects  # None: each video dict's "eval_objects" (default "first_frame")
        self._distributed = distributed
        self._videos: Optional[Dict[str, Mapping[str, Any]]] = None
        self._ann_dir: Optional[str] = None
        self.reset()

    def reset(self):
        self._seq_results: List[Dict[str, Any]] = []

    def _gt(self, video_id: str) -> Tuple[np.ndarray, List[int]]:
        if self._dataset_name is not None:
            if self._videos is None:
                from detectron2.data import DatasetCatalog

                self._videos = {str(v["video_id"]): v for v in DatasetCatalog.get(self._dataset_name)}
            if video_id not in self._videos:
                raise KeyError(f"video {video_id!r} not in dataset {self._dataset_name}")
            return video_dict_id_maps(self._videos[video_id])
        if self._ann_dir is None:
            self._ann_dir, _, _ = find_davis_sequences(self._gt_root, self._task, self._subset)
        d = os.path.join(self._ann_dir, video_id)
        names = _frame_ids(d)
        gt = np.stack([read_id_map(os.path.join(d, f + ".png")) for f in names])
        idx = [int(f) if f.isdigit() else i for i, f in enumerate(names)]
        return gt, idx

    def process(self, inputs, outputs):
        # build_video_test_loader yields one video dict per step (not a list of them)
        if isinstance(inputs, Mapping):
            inputs = [inputs]
        if isinstance(outputs, Mapping):
            outputs = [outputs]
        for inp, out in zip(inputs, outputs):
            video_id = str(out.get("video_id", inp.get("video_id")))
            gt, frame_idx = self._gt(video_id)
            H, W = gt.shape[1:]
            maps = output_id_maps(out, H, W)
            if max(frame_idx) >= len(maps):
                raise DatasetFormatError(video_id, f"{len(maps)} output frames but ground truth up to frame {max(frame_idx)}")
            res = [maps[t] for t in frame_idx]
            objects = self._objects or (self._videos or {}).get(video_id, {}).get("eval_objects") or "first_frame"
            r = evaluate_sequence(gt, res, self._task, name=video_id, objects=objects, **self._kw)
            for o in r["objects"]:  # keep the figures, drop the per-frame arrays
                o.pop("J_frames")
                o.pop("F_frames")
            self._seq_results.append(r)

    def evaluate(self):
        seq_results = self._seq_results
        if self._distributed:
            from detectron2.utils import comm

            comm.synchronize()
            gathered = comm.gather(seq_results, dst=0)
            if not comm.is_main_process():
                return {}
            seq_results = [r for part in gathered for r in part]
        if not seq_results:
            logger.warning("DAVISEvaluator: no video was processed")
            return {}
        seq_results = sorted(seq_results, key=lambda r: r["name"])
        result = DAVISResult(seq_results, self._task, self._subset)
        if self._output_dir:
            result.write_csvs(self._output_dir)
            result.write_json(os.path.join(os.fspath(self._output_dir), "davis_results.json"))
        logger.info("DAVIS %s results:\n%s", self._task, result.format_tables())
        return {"davis": dict(result.global_figures)}
