"""Vectorised DAVIS region (J) and boundary (F) measures between two id maps.

The definitions are those of the DAVIS-2017 toolkit (davis2017-evaluation, ``metrics.py`` and
``utils.py``); this file computes them for *every* (proposal, object) pair of a frame at once:

* **J** (region similarity) = |g ∩ p| / |g ∪ p| over non-void pixels, 1 when the union is empty.
  All pairs come from one joint histogram of the two id maps (masks of an id map never overlap).
* **F** (boundary measure): boundaries are the toolkit's ``seg2bmap`` (a pixel is a boundary pixel
  of object k when k occurs in its 2x2 quad {p, east, south, south-east} and the quad is not
  uniform; last row/column use only the in-image neighbour; the bottom-right pixel never is);
  a boundary pixel is matched when it lies within a disk of radius
  ``ceil(bound_th * ||(H, W)||)`` of the other boundary (``cv2.dilate`` by ``skimage`` ``disk``);
  precision/recall/F with the toolkit's empty-boundary cases. Boundaries are extracted once per id
  map, and each object's boundary is dilated once (in its bounding box + radius) and reused for all
  pairs, instead of twice per pair.
* Per-object statistics (mean, recall = fraction of frames > 0.5, decay over four temporal bins)
  follow ``db_statistics``, with the decay bin indices as integers (the toolkit casts them to
  ``uint8``, which wraps past 255 frames; see docs/evaluation.md).

All arithmetic on the figures (integer counts, float64 divisions in the same order) matches the
toolkit, so per-frame values are bit-identical.
"""

from __future__ import annotations

import warnings
from typing import Dict, List, Tuple

import cv2
import numpy as np
from skimage.morphology import disk

__all__ = ["boundary_radius", "boundary_kernel", "label_boundaries", "frame_scores", "db_statistics", "decay_bin_edges"]


def boundary_radius(height: int, width: int, bound_th: float = 0.008) -> float:
    """Matching tolerance in pixels: ``bound_th`` itself if >= 1, else ``ceil(bound_th * diagonal)``."""
    return float(bound_th) if bound_th >= 1 else float(np.ceil(bound_th * np.linalg.norm((height, width))))


def boundary_kernel(radius: float) -> np.ndarray:
    """uint8 disk structuring element of ``radius`` (skimage ``disk``, as the toolkit)."""
    return disk(radius).astype(np.uint8)


class Boundaries:
    """Boundary pixels of every object of one id map, grouped by label.

    Attributes: ``ys``, ``xs``, ``labels`` (int arrays of length N, sorted by label), ``counts``
    ((L+1,) number of boundary pixels per label, label 0 = background is never listed),
    ``starts`` ((L+2,) offsets of each label's run in the sorted arrays).
    """

    __slots__ = ("ys", "xs", "labels", "counts", "starts", "boxes")

    def __init__(self, ys, xs, labels, num_labels: int):
        order = np.argsort(labels, kind="stable")
        self.ys, self.xs, self.labels = ys[order], xs[order], labels[order]
        self.counts = np.bincount(self.labels, minlength=num_labels + 1)[: num_labels + 1]
        self.starts = np.concatenate([[0], np.cumsum(self.counts)])
        # (L+1, 4) inclusive boxes y0, y1, x0, x1 of each label's boundary (empty: y0 > y1)
        self.boxes = np.tile(np.array([1, -1, 1, -1], dtype=np.int64), (num_labels + 1, 1))
        present = np.flatnonzero(self.counts)
        if len(present):
            st = self.starts[present]
            self.boxes[present] = np.stack(
                [
                    np.minimum.reduceat(self.ys, st),
                    np.maximum.reduceat(self.ys, st),
                    np.minimum.reduceat(self.xs, st),
                    np.maximum.reduceat(self.xs, st),
                ],
                axis=1,
            )

    def of(self, k: int) -> Tuple[np.ndarray, np.ndarray]:
        s, e = self.starts[k], self.starts[k + 1]
        return self.ys[s:e], self.xs[s:e]


def label_boundaries(lab: np.ndarray, num_labels: int) -> Boundaries:
    """Per-object ``seg2bmap`` boundaries of an (H, W) id map with labels in [0, num_labels]."""
    H, W = lab.shape
    ys_l: List[np.ndarray] = []
    xs_l: List[np.ndarray] = []
    ls_l: List[np.ndarray] = []

    def add(ys, xs, labels, keep):
        keep = keep & (labels > 0)
        ys_l.append(ys[keep])
        xs_l.append(xs[keep])
        ls_l.append(labels[keep])

    if H > 1 and W > 1:
        # non-uniform 2x2 quads, compared on the flat (contiguous) array; the wrapped comparisons
        # of the last column are dropped afterwards
        f = np.ascontiguousarray(lab).ravel()
        L = (H - 1) * W
        q = f[:L] != f[1 : L + 1]
        q |= f[:L] != f[W : L + W]
        q[: L - 1] |= f[: L - 1] != f[W + 1 : L + W]
        ys, xs = np.divmod(np.flatnonzero(q), W)
        keep = xs < W - 1
        ys, xs = ys[keep], xs[keep]
        la, le, ls, lse = lab[ys, xs], lab[ys, xs + 1], lab[ys + 1, xs], lab[ys + 1, xs + 1]
        true = np.ones(len(ys), dtype=bool)
        add(ys, xs, la, true)
        add(ys, xs, le, le != la)
        add(ys, xs, ls, (ls != la) & (ls != le))
        add(ys, xs, lse, (lse != la) & (lse != le) & (lse != ls))
    if W > 1:  # last row: only the east neighbour
        row = lab[H - 1]
        (xs,) = np.nonzero(row[:-1] != row[1:])
        ys = np.full(len(xs), H - 1)
        add(ys, xs, row[xs], np.ones(len(xs), dtype=bool))
        add(ys, xs, row[xs + 1], np.ones(len(xs), dtype=bool))
    if H > 1:  # last column: only the south neighbour
        col = lab[:, W - 1]
        (ys,) = np.nonzero(col[:-1] != col[1:])
        xs = np.full(len(ys), W - 1)
        add(ys, xs, col[ys], np.ones(len(ys), dtype=bool))
        add(ys, xs, col[ys + 1], np.ones(len(ys), dtype=bool))
    if not ys_l:
        z = np.zeros(0, dtype=np.int64)
        return Boundaries(z, z, z, num_labels)
    return Boundaries(
        np.concatenate(ys_l).astype(np.int64),
        np.concatenate(xs_l).astype(np.int64),
        np.concatenate(ls_l).astype(np.int64),
        num_labels,
    )


def _match_counts(src: Boundaries, k: int, dst: Boundaries, shape, radius: int, kernel: np.ndarray) -> np.ndarray:
    """For every label q of ``dst``: how many of its boundary pixels lie within ``radius`` of the
    boundary of label ``k`` of ``src`` (a (Ld+1,) int array).

    The dilation is computed only where it is read: on the bounding box of the queried pixels
    (those within the dilated bounding box of k's boundary), padded by ``radius``."""
    H, W = shape
    out = np.zeros(len(dst.counts), dtype=np.int64)
    ys, xs = src.of(k)
    if len(ys) == 0 or len(dst.ys) == 0:
        return out
    sy0, sy1, sx0, sx1 = src.boxes[k] + np.array([-radius, radius, -radius, radius])
    b = dst.boxes
    near = np.flatnonzero((b[:, 0] <= sy1) & (b[:, 1] >= sy0) & (b[:, 2] <= sx1) & (b[:, 3] >= sx0))
    if len(near) == 0:
        return out
    if len(near) == 1:
        sl = slice(dst.starts[near[0]], dst.starts[near[0] + 1])
        qy, qx, ql = dst.ys[sl], dst.xs[sl], dst.labels[sl]
    else:
        idx = np.concatenate([np.arange(dst.starts[q], dst.starts[q + 1]) for q in near])
        qy, qx, ql = dst.ys[idx], dst.xs[idx], dst.labels[idx]
    inside = (qy >= sy0) & (qy <= sy1) & (qx >= sx0) & (qx <= sx1)
    if not inside.any():
        return out
    qy, qx, ql = qy[inside], qx[inside], ql[inside]
    y0, y1 = max(int(qy.min()) - radius, 0), min(int(qy.max()) + radius + 1, H)
    x0, x1 = max(int(qx.min()) - radius, 0), min(int(qx.max()) + radius + 1, W)
    keep = (ys >= y0) & (ys < y1) & (xs >= x0) & (xs < x1)
    canvas = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    canvas[ys[keep] - y0, xs[keep] - x0] = 1
    hit = cv2.dilate(canvas, kernel)[qy - y0, qx - x0].astype(bool)
    return np.bincount(ql[hit], minlength=len(dst.counts))[: len(dst.counts)]


def _region_scores(gt_lab: np.ndarray, res_lab: np.ndarray, G: int, P: int) -> np.ndarray:
    """(P, G) J from one joint histogram of (gt label, result label) (exact: counts < 2**24)."""
    if gt_lab.size >= 2**24:
        hist = np.bincount((gt_lab.astype(np.int64) * (P + 1) + res_lab).ravel(), minlength=(G + 1) * (P + 1))
        hist = hist.reshape(G + 1, P + 1)
    else:
        hist = cv2.calcHist([gt_lab, res_lab], [0, 1], None, [G + 1, P + 1], [0, G + 1, 0, P + 1])
        hist = hist.astype(np.int64)
    inter = hist[1:, 1:].T  # (P, G)
    area_g = hist[1:, :].sum(axis=1)
    area_p = hist[:, 1:].sum(axis=0)
    union = area_p[:, None] + area_g[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        J = inter / union
    J[union == 0] = 1
    return J


def _boundary_matches(
    bg: Boundaries, br: Boundaries, shape, r: int, kernel: np.ndarray, pairs: str
) -> Tuple[np.ndarray, np.ndarray]:
    """(P, G) counts of result boundary pixels near each object's boundary, and of object
    boundary pixels near each proposal's boundary: one dilation per object / proposal."""
    n_gt, n_fg = bg.counts[1:], br.counts[1:]
    G, P = len(n_gt), len(n_fg)
    fg_match = np.zeros((P, G), dtype=np.int64)
    gt_match = np.zeros((P, G), dtype=np.int64)
    if pairs == "all":
        for g in range(1, G + 1):
            if n_gt[g - 1] and n_fg.any():
                fg_match[:, g - 1] = _match_counts(bg, g, br, shape, r, kernel)[1:]
        for p in range(1, P + 1):
            if n_fg[p - 1] and n_gt.any():
                gt_match[p - 1, :] = _match_counts(br, p, bg, shape, r, kernel)[1:]
    elif pairs == "diagonal":
        for k in range(1, min(G, P) + 1):
            if n_gt[k - 1] and n_fg[k - 1]:
                fg_match[k - 1, k - 1] = _match_counts(bg, k, br, shape, r, kernel)[k]
                gt_match[k - 1, k - 1] = _match_counts(br, k, bg, shape, r, kernel)[k]
    else:
        raise ValueError(f"pairs must be 'all' or 'diagonal', got {pairs!r}")
    return fg_match, gt_match


def frame_scores(
    gt_lab: np.ndarray,
    res_lab: np.ndarray,
    num_gt: int,
    num_res: int,
    radius: float,
    kernel: np.ndarray,
    pairs: str = "all",
) -> Tuple[np.ndarray, np.ndarray]:
    """J and F of every (proposal, object) pair of one frame.

    Args:
        gt_lab: (H, W) uint8 ground-truth labels in [0, num_gt] (void already set to 0).
        res_lab: (H, W) uint8 result labels in [0, num_res] (void pixels already set to 0 when
            void is excluded).
        radius, kernel: from :func:`boundary_radius` / :func:`boundary_kernel` for this frame size.
        pairs: "all" for the (num_res, num_gt) matrices, "diagonal" for proposal k vs object k only
            (semi-supervised; requires num_res == num_gt; the result is still (num_res, num_gt) with
            off-diagonal entries left at 0).

    Returns:
        J, F: float64 (num_res, num_gt), row = proposal id - 1, column = object id - 1.
    """
    G, P = num_gt, num_res
    if gt_lab.dtype != np.uint8 or res_lab.dtype != np.uint8 or G > 254 or P > 254:
        raise ValueError("frame_scores expects uint8 label maps with at most 254 labels")
    J = _region_scores(gt_lab, res_lab, G, P)
    # --- F: boundaries once per id map, one dilation per object
    bg = label_boundaries(gt_lab, G)
    br = label_boundaries(res_lab, P)
    fg_match, gt_match = _boundary_matches(bg, br, gt_lab.shape, int(radius), kernel, pairs)
    nf = np.broadcast_to(br.counts[1:][:, None], (P, G))
    ng = np.broadcast_to(bg.counts[1:][None, :], (P, G))
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = fg_match / nf.astype(np.float64)
        recall = gt_match / ng.astype(np.float64)
    # the toolkit's empty-boundary cases
    precision = np.where(nf == 0, 1.0, np.where(ng == 0, 0.0, precision))
    recall = np.where(ng == 0, 1.0, np.where(nf == 0, 0.0, recall))
    denom = precision + recall
    with np.errstate(divide="ignore", invalid="ignore"):
        F = 2 * precision * recall / denom
    F[denom == 0] = 0.0
    return J, F


def decay_bin_edges(n: int, official_uint8: bool = False) -> np.ndarray:
    """The five indices delimiting the four decay bins of an n-frame series (bins are
    ``v[e[i] : e[i+1] + 1]``, i.e. neighbouring bins share a frame).

    ``official_uint8=True`` reproduces the toolkit's ``astype(np.uint8)``, which wraps around past
    255 frames (kept only to document/test the defect)."""
    ids = np.round(np.linspace(1, n, 5) + 1e-10) - 1
    if official_uint8:
        return ids.astype(np.int64) % 256  # what the uint8 cast yields (two's-complement wrap)
    return ids.astype(np.int64)


def db_statistics(values: np.ndarray) -> Tuple[float, float, float]:
    """(mean, recall, decay) of a 1-D per-frame series, as the toolkit's ``db_statistics``."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        M = np.nanmean(values)
        O = np.nanmean(values > 0.5)  # noqa: E741 (the paper's name: J-Recall "O")
        e = decay_bin_edges(len(values))
        bins = [values[e[i] : e[i + 1] + 1] for i in range(4)]
        D = np.nanmean(bins[0]) - np.nanmean(bins[3])
    return float(M), float(O), float(D)


def stats_dict(J: np.ndarray, F: np.ndarray) -> Dict[str, float]:
    """The per-object statistics of its J and F series (keys "J", "J-Recall", ... "F-Decay")."""
    jm, jr, jd = db_statistics(J)
    fm, fr, fd = db_statistics(F)
    return {"J": jm, "J-Recall": jr, "J-Decay": jd, "F": fm, "F-Recall": fr, "F-Decay": fd}
