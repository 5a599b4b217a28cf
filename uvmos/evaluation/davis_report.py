"""The figures of a DAVIS evaluation: global and per-object J&F (and identity) figures, the
official tool's two CSVs, a JSON dump and console tables."""

from __future__ import annotations

import csv
import io
import logging
import os
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from uvmos.utils.file_io import atomic_write_json, atomic_write_text

from .id_metrics import ID_MEASURES, combine_identity

__all__ = ["GLOBAL_MEASURES", "DAVISResult"]

logger = logging.getLogger(__name__)

GLOBAL_MEASURES = ("J&F-Mean", "J-Mean", "J-Recall", "J-Decay", "F-Mean", "F-Recall", "F-Decay")
OBJECT_STATS = ("J", "J-Recall", "J-Decay", "F", "F-Recall", "F-Decay")
PathLike = Union[str, os.PathLike]


def _fmt(x: float) -> str:
    """pandas ``to_csv(float_format="%.3f")`` formatting (NaN is an empty field)."""
    return "" if x is None or np.isnan(x) else "%.3f" % x


def _nan_to_none(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _nan_to_none(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_nan_to_none(v) for v in x]
    if isinstance(x, float) and np.isnan(x):
        return None
    return x


def _global_figures(sequences: Sequence[Dict[str, Any]]) -> "OrderedDict[str, float]":
    """Means over all objects, summed in the toolkit's order so the floats agree to the bit."""
    stats: Dict[str, List[float]] = {k: [] for k in OBJECT_STATS}
    for seq in sequences:
        for idx in seq["official_order"]:
            for k in stats:
                stats[k].append(seq["objects"][idx][k])
    with np.errstate(all="ignore"):
        m = {k: float(np.mean(v)) if v else float("nan") for k, v in stats.items()}
    return OrderedDict(
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


def _dropped_note(dropped: Dict[str, List[int]]) -> Optional[str]:
    if not dropped:
        return None
    n = sum(len(v) for v in dropped.values())
    return (
        f"{n} object(s) in {len(dropped)} sequence(s) do not appear in the first frame and were not "
        "scored (official DAVIS rule, objects='first_frame'): "
        + ", ".join(f"{k} (id {', '.join(map(str, v))})" for k, v in dropped.items())
        + "; objects='all' scores them"
    )


class DAVISResult:
    """Figures of one DAVIS evaluation.

    Attributes:
        global_figures: OrderedDict over :data:`GLOBAL_MEASURES`, then (unsupervised) the identity
            measures ``IDF1``, ``IDSW``, ``MOTA`` (:data:`uvmos.evaluation.id_metrics.ID_MEASURES`).
        identity: {sequence: CLEAR/Identity counts} (unsupervised).
        per_object: OrderedDict ``"<seq>_<k>"`` -> {"J", "J-Recall", "J-Decay", "F", "F-Recall",
            "F-Decay", "proposal_id"} in sequence order, objects in ground-truth order.
        sequences: per-sequence dicts as returned by
            :func:`uvmos.evaluation.davis_sequence.evaluate_sequence` (with per-frame arrays).
        task, subset, notes.
    """

    def __init__(self, sequences: List[Dict[str, Any]], task: str, subset: str = "val", notes: Sequence[str] = ()):
        self.sequences = sequences
        self.task = task
        self.subset = subset
        self.notes = list(notes)
        self.per_object: "OrderedDict[str, Dict[str, float]]" = OrderedDict(
            (o["name"], {k: o[k] for k in OBJECT_STATS} | {"proposal_id": o["proposal_id"]})
            for seq in sequences
            for o in seq["objects"]
        )
        self.global_figures = _global_figures(sequences)
        self.identity = {seq["name"]: seq["identity"] for seq in sequences if seq.get("identity") is not None}
        if sequences and len(self.identity) == len(sequences):
            self.global_figures.update(combine_identity(list(self.identity.values())))
        self.objects_modes = sorted({seq.get("objects_mode", "first_frame") for seq in sequences})
        self.dropped_objects = {
            seq["name"]: list(seq["dropped_objects"]) for seq in sequences if seq.get("dropped_objects")
        }
        note = _dropped_note(self.dropped_objects)
        if note:
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
        atomic_write_text(g, self.global_csv())
        atomic_write_text(s, self.per_sequence_csv())
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
        """The figures as JSON (NaN as null)."""
        atomic_write_json(path, _nan_to_none(self.to_json_dict()), indent=1)

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
