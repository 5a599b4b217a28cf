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

Entry points: :func:`evaluate_davis` (paths or in-memory arrays) and :class:`DAVISEvaluator` (a
detectron2 ``DatasetEvaluator`` for video-level outputs), here; one sequence's id maps:
:func:`uvmos.evaluation.davis_sequence.evaluate_sequence`; the figures and their CSV/JSON writers:
:class:`uvmos.evaluation.davis_report.DAVISResult`; folders, PNGs and model outputs:
:mod:`uvmos.evaluation.davis_io`; per-frame J/F: :mod:`uvmos.evaluation.davis_metrics`.
"""

from __future__ import annotations

import logging
import os
from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
from detectron2.evaluation import DatasetEvaluator

from uvmos.data.folder import frame_names
from uvmos.data.video_dict import DatasetFormatError
from uvmos.utils.parallel import map_jobs

from .davis_io import (
    find_davis_sequences,
    is_synthetic_root,
    keep_largest_ids,
    load_sequence,
    output_id_maps,
    read_results,
    read_sequence,
    sequence_frame_ids,
    video_dict_id_maps,
)
from .davis_report import DAVISResult
from .davis_sequence import check_objects, check_task, evaluate_sequence
from .gather import gather_on_main

__all__ = ["DAVISEvaluator", "evaluate_davis", "dataset_objects_mode"]

logger = logging.getLogger(__name__)

PathLike = Union[str, os.PathLike]
Job = Tuple[str, Any, Any, str, Dict[str, Any]]  # (sequence, ground truth, results, task, options)


def dataset_objects_mode(dataset_name: str) -> Optional[str]:
    """The ``eval_objects`` of a registered dataset's metadata ("all" on the synthetic sets), or None."""
    from detectron2.data import MetadataCatalog

    return MetadataCatalog.get(dataset_name).get("eval_objects", None)


# ----------------------------------------------------------------------------------------------
# jobs (top-level functions: they run in the worker processes)
# ----------------------------------------------------------------------------------------------
def _eval_from_disk(job: Job) -> Dict[str, Any]:
    seq, gt_dir, res_dir, task, kw = job
    gt, res, missing = load_sequence(gt_dir, res_dir)
    out = evaluate_sequence(gt, res, task, name=seq, **kw)
    out["missing_frames"] = missing
    return out


def _eval_in_memory(job: Job) -> Dict[str, Any]:
    seq, gt, res, task, kw = job
    return evaluate_sequence(gt, res, task, name=seq, **kw)


def _seq_cost(gt_dir: str) -> float:
    try:
        return float(len(os.listdir(gt_dir)))
    except OSError:
        return 0.0


# ----------------------------------------------------------------------------------------------
# whole data set
# ----------------------------------------------------------------------------------------------
def _select(seqs: Sequence[str], sequences: Optional[Sequence[str]], where: Optional[str]) -> List[str]:
    """``seqs`` restricted to ``sequences`` (all when None), in the order of ``sequences``."""
    if sequences is None:
        return list(seqs)
    unknown = sorted(set(sequences) - set(seqs))
    if unknown:
        raise DatasetFormatError(where, f"unknown sequences {unknown}")
    return list(sequences)


def _check_result_folders(res_root: str, seqs: Sequence[str]) -> None:
    """Before the pool, so the first missing sequence folder is named."""
    if not os.path.isdir(res_root):
        raise DatasetFormatError(res_root, "results folder not found")
    absent = [s for s in seqs if not os.path.isdir(os.path.join(res_root, s))]
    if absent and len(absent) == len(seqs):
        raise DatasetFormatError(res_root, f"holds none of the {len(seqs)} sequence folders ({', '.join(seqs[:3])}...)")
    if absent:
        raise DatasetFormatError(os.path.join(res_root, absent[0]), "result folder of the sequence not found")


def _evaluate_folders(
    ann_dir: str, seqs: List[str], res_root: str, task: str, kw: Dict, num_workers: int, subset: str, notes: List[str]
) -> DAVISResult:
    """Ground truth and results both on disk: each worker reads its own sequence."""
    _check_result_folders(res_root, seqs)
    jobs = [(s, os.path.join(ann_dir, s), os.path.join(res_root, s), task, kw) for s in seqs]
    seq_results = map_jobs(_eval_from_disk, jobs, num_workers, [_seq_cost(j[1]) for j in jobs])
    for r in seq_results:
        if r["missing_frames"]:
            notes.append(f"{r['name']}: {len(r['missing_frames'])} missing result frame(s) scored as empty")
    return DAVISResult(seq_results, task, subset, notes)


def _ground_truth(gt: Union[Sequence[Mapping[str, Any]], Mapping[str, np.ndarray]]) -> Tuple[Dict, Dict, Dict]:
    """In-memory ground truth -> ({seq: (T, H, W)}, {seq: result frame names}, {seq: objects mode})."""
    gt_arrays: Dict[str, np.ndarray] = OrderedDict()
    names: Dict[str, List[str]] = {}
    modes: Dict[str, str] = {}
    if isinstance(gt, Mapping):
        for k, v in gt.items():
            gt_arrays[k] = np.asarray(v)
            names[k] = [f"{t:05d}" for t in range(len(gt_arrays[k]))]
        return gt_arrays, names, modes
    for vd in gt:
        vid = str(vd["video_id"])
        gt_arrays[vid], idx = video_dict_id_maps(vd)
        modes[vid] = vd.get("eval_objects") or "first_frame"
        all_names = frame_names(vd) if vd.get("file_names") else None
        names[vid] = [all_names[t] if all_names else f"{t:05d}" for t in idx]
    return gt_arrays, names, modes


def _sequence_results(s: str, names: List[str], results: Any, task: str, max_proposals: int, notes: List[str]) -> Any:
    """The results of sequence ``s`` for in-memory ground truth (folder or mapping)."""
    if isinstance(results, (str, os.PathLike)):  # <results>/<seq>/<frame name>.png
        res, missing = read_results(os.path.join(os.fspath(results), s), names)
        if missing:
            notes.append(f"{s}: {len(missing)} missing result frame(s) scored as empty")
        return res
    if s not in results:
        raise DatasetFormatError(None, f"no results for sequence {s!r}")
    res = results[s]
    if task == "unsupervised":
        res, dropped = keep_largest_ids(list(res), max_proposals)
        if dropped:
            notes.append(f"{s}: {len(dropped) + max_proposals} result ids; the {max_proposals} largest scored")
    return res


def _evaluate_arrays(
    gt_arrays: Dict,
    names: Dict,
    modes: Dict,
    results: Any,
    task: str,
    kw: Dict,
    objects: Optional[str],
    num_workers: int,
    subset: str,
    notes: List[str],
) -> DAVISResult:
    jobs = []
    for s, g in gt_arrays.items():
        res = _sequence_results(s, names[s], results, task, kw["max_proposals"], notes)
        jobs.append((s, g, res, task, dict(kw, objects=objects or modes.get(s, "first_frame"))))
    seq_results = map_jobs(_eval_in_memory, jobs, num_workers, [len(j[1]) for j in jobs])
    return DAVISResult(seq_results, task, subset, notes)


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
            the frame file's stem (:func:`uvmos.data.folder.frame_names`), else the 5-digit frame
            index), or {seq: (T, H, W) array | list of (H, W) arrays or None (missing frame)}
            aligned with the ground-truth frames.
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
    check_task(task)
    objects = dataset_objects_mode(dataset_name) if objects is None and dataset_name is not None else objects
    if objects is not None:
        check_objects(objects)
    kw = dict(void=void, extra_ids=extra_ids, max_proposals=max_proposals, bound_th=bound_th)
    notes: List[str] = []
    num_workers = (os.cpu_count() or 1) if num_workers is None else int(num_workers)
    if not isinstance(gt, (str, os.PathLike)):
        gt_arrays, names, modes = _ground_truth(gt)
        keep = _select(list(gt_arrays), sequences, None)
        gt_arrays = OrderedDict((k, gt_arrays[k]) for k in keep)
        return _evaluate_arrays(gt_arrays, names, modes, results, task, kw, objects, num_workers, subset, notes)
    objects = objects or ("all" if is_synthetic_root(gt) else "first_frame")
    return _evaluate_root(gt, results, task, kw, objects, sequences, subset, resolution, num_workers, notes)


def _evaluate_root(
    gt: PathLike,
    results: Union[PathLike, Mapping[str, Any]],
    task: str,
    kw: Dict[str, Any],
    objects: str,
    sequences: Optional[Sequence[str]],
    subset: str,
    resolution: str,
    num_workers: int,
    notes: List[str],
) -> DAVISResult:
    """:func:`evaluate_davis` of a ground-truth folder: against result folders, or arrays."""
    ann_dir, seqs, note = find_davis_sequences(gt, task, subset, resolution)
    notes += [note] if note else []
    selected = _select(seqs, sequences, ann_dir)
    if isinstance(results, (str, os.PathLike)):
        seqs = [s for s in seqs if s in set(selected)]
        return _evaluate_folders(
            ann_dir, seqs, os.fspath(results), task, dict(kw, objects=objects), num_workers, subset, notes
        )
    gt_arrays, names = OrderedDict(), {}
    for s in selected:
        names[s] = sequence_frame_ids(os.path.join(ann_dir, s))
        gt_arrays[s] = read_sequence(os.path.join(ann_dir, s), names[s])
    return _evaluate_arrays(gt_arrays, names, {}, results, task, kw, objects, num_workers, subset, notes)


# ----------------------------------------------------------------------------------------------
# detectron2 evaluator
# ----------------------------------------------------------------------------------------------
class DAVISEvaluator(DatasetEvaluator):
    """detectron2 ``DatasetEvaluator`` of DAVIS-2017 J&F over video-level outputs.

    ``process(inputs, outputs)`` takes, per video, an input with ``video_id`` and an output with
    per-frame id maps (see :func:`output_id_maps`); each video is scored immediately (only its
    per-object figures are kept). ``evaluate()`` returns ``{"davis": {"J&F-Mean": ..., ...}}`` and,
    with ``output_dir``, writes the two official CSVs and ``davis_results.json`` there.

    Ground truth: ``dataset_name`` (a ``DatasetCatalog`` entry of video dicts) or ``gt_root`` (a
    DAVIS root or folder of sequence folders; frame k of the output is annotation file k).
    ``objects`` ("first_frame" | "all", see :func:`evaluate_sequence`) defaults as in
    :func:`evaluate_davis`: the dataset's ``eval_objects`` metadata ("all" on the synthetic sets).
    ``subset`` names the CSVs (``global_results-<subset>.csv``); by default the dataset's
    ``image_set`` metadata ("train" for ``davis2016_shared_train``), else "val".
    """

    def __init__(
        self,
        dataset_name: Optional[str] = None,
        *,
        gt_root: Optional[PathLike] = None,
        task: str = "unsupervised",
        subset: Optional[str] = None,
        output_dir: Optional[PathLike] = None,
        void: str = "exclude",
        extra_ids: str = "error",
        max_proposals: int = 20,
        distributed: bool = True,
        objects: Optional[str] = None,
    ):
        check_task(task)
        if (dataset_name is None) == (gt_root is None):
            raise ValueError("give exactly one of dataset_name or gt_root")
        self._dataset_name, self._gt_root, self._output_dir = dataset_name, gt_root, output_dir
        if subset is None:  # the dataset's own image set (its CSVs are named after it), else "val"
            subset = "val"
            if dataset_name is not None:
                from detectron2.data import MetadataCatalog

                subset = MetadataCatalog.get(dataset_name).get("image_set", None) or "val"
        self._task, self._subset = task, str(subset)
        self._kw = dict(void=void, extra_ids=extra_ids, max_proposals=max_proposals)
        if objects is not None:
            check_objects(objects)
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
        names = sequence_frame_ids(os.path.join(self._ann_dir, video_id))
        gt = read_sequence(os.path.join(self._ann_dir, video_id), names)
        idx = [int(f) if f.isdigit() else i for i, f in enumerate(names)]
        return gt, idx

    def process(self, inputs, outputs):
        for inp, out in zip(inputs, outputs):
            video_id = str(out.get("video_id", inp.get("video_id")))
            gt, frame_idx = self._gt(video_id)
            H, W = gt.shape[1:]
            maps = output_id_maps(out, H, W)
            if max(frame_idx) >= len(maps):
                raise DatasetFormatError(
                    video_id, f"{len(maps)} output frames but ground truth up to frame {max(frame_idx)}"
                )
            res = [maps[t] for t in frame_idx]
            objects = self._objects or (self._videos or {}).get(video_id, {}).get("eval_objects") or "first_frame"
            r = evaluate_sequence(gt, res, self._task, name=video_id, objects=objects, **self._kw)
            for o in r["objects"]:  # keep the figures, drop the per-frame arrays
                o.pop("J_frames")
                o.pop("F_frames")
            self._seq_results.append(r)

    def evaluate(self):
        seq_results = gather_on_main(self._seq_results, self._distributed)
        if seq_results is None:
            return {}
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
