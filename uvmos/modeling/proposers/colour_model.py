"""Online colour models of the foreground and the background (FST's appearance models, made online).

FST (Papazoglou & Ferrari 2013, §3.2) fits one foreground and one background colour GMM over the
whole video, from the inside-outside maps of all frames, so frames with weak motion are segmented
by the appearance learnt on frames with clear motion. A stream has no "whole video"; here the two
models are colour histograms updated after every frame with the final segmentation, with
exponential forgetting, and read as p(foreground | colour) on the next frame.
"""

from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

__all__ = ["ColourModel"]


class ColourModel:
    """Foreground / background colour histograms over ``bins**3`` BGR cells.

    Args:
        bins: cells per colour channel.
        rate: weight of the newest frame in the running histograms (exponential forgetting).
        bg_margin: background pixels are those farther than this (px) from the foreground, so the
            mask's uncertain border teaches neither model.
        prior: pseudo-count mass spread over the cells of each model (a colour seen in neither
            reads as 0.5).
    """

    def __init__(self, bins: int = 16, rate: float = 0.3, bg_margin: int = 7, prior: float = 1e-3):
        if not 2 <= bins <= 64:
            raise ValueError(f"ColourModel: bins must be in [2, 64], got {bins}")
        self.bins, self.rate, self.bg_margin, self.prior = int(bins), float(rate), int(bg_margin), float(prior)
        self.reset()

    def reset(self) -> None:
        self.fg: Optional[np.ndarray] = None
        self.bg: Optional[np.ndarray] = None

    def _cells(self, bgr: np.ndarray) -> np.ndarray:
        q = (bgr.astype(np.int32) * self.bins) >> 8
        return (q[..., 0] * self.bins + q[..., 1]) * self.bins + q[..., 2]

    def _hist(self, cells: np.ndarray) -> np.ndarray:
        h = np.bincount(cells.ravel(), minlength=self.bins**3).astype(np.float32)
        return h / max(float(h.sum()), 1.0)

    def update(self, bgr: np.ndarray, fg: np.ndarray) -> None:
        """Learn from one frame (``bgr`` (h, w, 3) uint8) and its foreground mask (``fg`` (h, w))."""
        fg = fg > 0
        if fg.sum() < 16:
            return  # nothing to learn the foreground from; keep the old models
        k = 2 * self.bg_margin + 1
        near = cv2.dilate(fg.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) > 0
        cells = self._cells(bgr)
        hf, hb = self._hist(cells[fg]), self._hist(cells[~near])
        if self.fg is None:
            self.fg, self.bg = hf, hb
        else:
            self.fg = (1 - self.rate) * self.fg + self.rate * hf
            self.bg = (1 - self.rate) * self.bg + self.rate * hb

    def foreground_prob(self, bgr: np.ndarray) -> Optional[np.ndarray]:
        """(h, w) float32 p(foreground | colour) with equal priors, or None before any update."""
        if self.fg is None:
            return None
        eps = self.prior / self.fg.size
        table = (self.fg + eps) / (self.fg + self.bg + 2 * eps)
        return table[self._cells(bgr)].astype(np.float32)
