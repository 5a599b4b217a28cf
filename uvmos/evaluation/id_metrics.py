"""Identity errors of a video segmentation: ID switches (CLEAR MOT) and IDF1 (Ristani et al. 2016).

J&F scores each ground-truth object against the *one* proposal assigned to it over the whole
sequence, so a track that swaps identity half-way loses J&F on both objects but the swap itself is
not counted. These figures count it. They are computed by ``trackeval`` (``metrics.CLEAR`` and
``metrics.Identity``, the MOTChallenge reference code) on masks, with the mask IoU (the J of
:func:`uvmos.evaluation.davis_metrics.frame_scores`, void pixels excluded) as the similarity and
0.5 as the match threshold:

* a *detection* is an id with at least one pixel in a frame (ground-truth object or result id);
* **IDSW**: CLEAR's per-frame matching (Hungarian on IoU, keeping last frame's pairs when they
  still match); a ground-truth object matched to another result id than at its last match is one
  switch. Every result id counts, also those J&F leaves unassigned (they are false positives);
* **IDF1** = IDTP / (IDTP + 0.5 IDFP + 0.5 IDFN): one global one-to-one assignment of result ids
  to objects over the sequence; combined over sequences by summing IDTP/IDFP/IDFN;
* **MOTA** = (TP - FP - IDSW) / (TP + FN), CLEAR's, with the same sums.
"""

from __future__ import annotations

from typing import Dict, Mapping, Sequence

import numpy as np

__all__ = ["ID_MEASURES", "ID_COUNTS", "identity_counts", "combine_identity"]

ID_MEASURES = ("IDF1", "IDSW", "MOTA")
ID_COUNTS = ("IDTP", "IDFP", "IDFN", "IDSW", "CLR_TP", "CLR_FN", "CLR_FP")


def identity_counts(
    J: np.ndarray, gt_present: np.ndarray, res_present: np.ndarray, threshold: float = 0.5
) -> Dict[str, int]:
    """trackeval's CLEAR and Identity counts of one sequence.

    Args:
        J: (P, G, T) mask IoU of result id p+1 with object g+1 in frame t.
        gt_present: (G, T) bool, object g+1 has pixels in frame t.
        res_present: (P, T) bool, result id p+1 has pixels in frame t.
    Returns:
        {"IDTP", "IDFP", "IDFN", "IDSW", "CLR_TP", "CLR_FN", "CLR_FP"} as ints.
    """
    from trackeval.metrics import CLEAR, Identity  # imported here: ~1 s, needed only for these figures

    P, G, T = J.shape
    gt_ids, tr_ids, sims = [], [], []
    for t in range(T):
        g = np.flatnonzero(gt_present[:, t])
        p = np.flatnonzero(res_present[:, t])
        gt_ids.append(g)
        tr_ids.append(p)
        sims.append(np.ascontiguousarray(J[np.ix_(p, g, [t])][:, :, 0].T))  # (num gt, num tracker)
    data = {
        "num_timesteps": T,
        "num_gt_ids": G,
        "num_tracker_ids": P,
        "num_gt_dets": int(sum(len(g) for g in gt_ids)),
        "num_tracker_dets": int(sum(len(p) for p in tr_ids)),
        "gt_ids": gt_ids,
        "tracker_ids": tr_ids,
        "similarity_scores": sims,
    }
    cfg = {"THRESHOLD": float(threshold), "PRINT_CONFIG": False}
    clear = CLEAR(cfg).eval_sequence(data)
    ident = Identity(cfg).eval_sequence(data)
    out = {k: int(ident[k]) for k in ("IDTP", "IDFP", "IDFN")}
    out.update({k: int(clear[k]) for k in ("IDSW", "CLR_TP", "CLR_FN", "CLR_FP")})
    return out


def combine_identity(counts: Sequence[Mapping[str, int]]) -> Dict[str, float]:
    """IDF1, IDSW (total count, int) and MOTA over sequences from their :func:`identity_counts`."""
    s = {k: int(sum(c[k] for c in counts)) for k in ID_COUNTS}
    idf1 = s["IDTP"] / max(1.0, s["IDTP"] + 0.5 * s["IDFP"] + 0.5 * s["IDFN"])
    mota = (s["CLR_TP"] - s["CLR_FP"] - s["IDSW"]) / max(1.0, s["CLR_TP"] + s["CLR_FN"])
    return {"IDF1": float(idf1), "IDSW": s["IDSW"], "MOTA": float(mota)}
