"""The appearance step of the real-video proposer: GrabCut on each region of motion evidence."""

from __future__ import annotations

from typing import Tuple

import cv2
import numpy as np

from uvmos.utils.misc import store_init_args

__all__ = ["GrabCutRefiner"]


class GrabCutRefiner:
    """Motion probability -> foreground {0, 1}, by ``cv2.grabCut`` (colour GMMs + graph cut)
    seeded by the probability, one motion region at a time (FST's appearance step, made local).

    Args:
        iters: GrabCut iterations (0 skips the graph cut: the seeds are the mask).
        crop_margin: each region is cut on its box plus this margin (px).
        region_thresh: motion regions are the components of prob >= this (dilated 7 px).
        norm_floor: within a region the probability is divided by its 99th percentile (at least
            ``norm_floor``; 1 = absolute thresholds); a region whose peak is below
            ``norm_floor * fg_thresh`` is dropped.
        fg_seed_thresh: probability above which a pixel is probable / sure foreground.
    """

    def __init__(
        self,
        region_thresh: float = 0.3,
        fg_seed_thresh: Tuple[float, float] = (0.8, 0.95),
        norm_floor: float = 0.5,
        crop_margin: int = 24,
        iters: int = 2,
    ):
        store_init_args(self, locals(), skip=("fg_seed_thresh",))
        self.fg_thresh, self.seed_thresh = (float(t) for t in fg_seed_thresh)

    def __call__(self, small: np.ndarray, prob: np.ndarray, min_area: float, max_regions: int) -> np.ndarray:
        """GrabCut (colour GMMs + graph cut) seeded by the motion probability -> foreground {0, 1}.

        Each region of motion evidence (a connected component of prob >= ``region_thresh``, dilated)
        is cut on its own box (its own local colour models; the cost is the boxes', not the
        frame's). Within a region the probability is divided by the region's 99th percentile (at
        least ``norm_floor``), so a slow mover next to a fast one is still seeded."""
        regions = cv2.dilate((prob >= self.region_thresh).astype(np.uint8), np.ones((15, 15), np.uint8))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(regions, connectivity=8)
        out = np.zeros(prob.shape, np.float32)
        cand = []
        for i in range(1, n):
            x, y, w, h, area = stats[i]
            if area < min_area:
                continue
            inside = labels[y : y + h, x : x + w] == i
            peak = float(np.percentile(prob[y : y + h, x : x + w][inside], 99))
            cand.append((peak, i))
        cand.sort(reverse=True)
        m = self.crop_margin
        for peak, i in cand[:max_regions]:
            if peak < self.norm_floor * self.fg_thresh:
                continue  # no clear motion in this region
            x, y, w, h, _ = stats[i]
            y0, y1 = max(0, y - m), min(prob.shape[0], y + h + m)
            x0, x1 = max(0, x - m), min(prob.shape[1], x + w + m)
            region = labels[y0:y1, x0:x1] == i
            pn = prob[y0:y1, x0:x1] / max(peak, self.norm_floor)
            gc = np.full(region.shape, cv2.GC_BGD, np.uint8)
            gc[region] = cv2.GC_PR_BGD
            gc[region & (pn >= self.fg_thresh)] = cv2.GC_PR_FGD
            gc[region & (pn >= self.seed_thresh)] = cv2.GC_FGD
            fg = (gc == cv2.GC_PR_FGD) | (gc == cv2.GC_FGD)
            if self.iters > 0 and fg.sum() >= 16 and (~fg).sum() >= 16:
                bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
                try:
                    cv2.grabCut(
                        np.ascontiguousarray(small[y0:y1, x0:x1]),
                        gc,
                        None,
                        bgd,
                        fgd,
                        self.iters,
                        cv2.GC_INIT_WITH_MASK,
                    )
                    fg = (gc == cv2.GC_PR_FGD) | (gc == cv2.GC_FGD)
                except cv2.error:  # a colour model with too few samples: keep the motion mask
                    pass
            out[y0:y1, x0:x1] = np.maximum(out[y0:y1, x0:x1], (fg & region).astype(np.float32))
        return out
