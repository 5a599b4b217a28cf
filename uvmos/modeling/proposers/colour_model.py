"""Online colour models of the foreground and the background (FST's appearance models, made online).

FST (Papazoglou & Ferrari 2013, §3.2) fits one foreground and one background colour GMM over the
whole video, from the inside-outside maps of all frames, so frames with weak motion are segmented
by the appearance learnt on frames with clear motion. A stream has no "whole video"; here the two
models are colour histograms updated after every frame with the final segmentation, with
exponential forgetting, and read as p(foreground | colour) on the next frame.
"""

from __future__ import annotations

from typing import Literal, Optional

import cv2
import numpy as np

from uvmos.utils.misc import store_init_args

__all__ = ["ColourModel"]


class ColourModel:
    """Foreground / background colour histograms over ``bins**3`` BGR cells.

    Used by ``MotionProposer(colour=ColourModel(...))`` through :meth:`apply` (before the
    appearance step) and :meth:`update` (after it).

    Args:
        weight: how strongly p(foreground | colour) enters the motion probability.
        near_px: p is used only within this distance (px) of prob >= ``near_thresh``.
        near_thresh: see ``near_px``.
        mode: "max" -- max(prob, weight * p), colour only adds; "blend" -- (1 - weight) * prob +
            weight * p, colour also takes away.
        bins: cells per colour channel.
        rate: weight of the newest frame in the running histograms (exponential forgetting).
        bg_margin: background pixels are those farther than this (px) from the foreground, so the
            mask's uncertain border teaches neither model.
        prior: pseudo-count mass spread over the cells of each model (a colour seen in neither
            reads as 0.5).
    """

    def __init__(
        self,
        weight: float = 0.8,
        near_px: int = 15,
        near_thresh: float = 0.3,
        mode: Literal["max", "blend"] = "max",
        bins: int = 16,
        rate: float = 0.3,
        bg_margin: int = 7,
        prior: float = 1e-3,
    ):
        if not 2 <= bins <= 64:
            raise ValueError(f"ColourModel: bins must be in [2, 64], got {bins}")
        if mode not in ("max", "blend"):
            raise ValueError(f"ColourModel: mode must be 'max' or 'blend', got {mode!r}")
        store_init_args(self, locals())
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

    def apply(self, bgr: np.ndarray, prob: np.ndarray) -> np.ndarray:
        """Combine p(foreground | colour) with the motion probability ``prob`` (h, w), only near
        where the evidence already is: colour fills an object whose motion is weak this frame."""
        app = self.foreground_prob(bgr)
        if app is None:
            return prob
        k = 2 * self.near_px + 1
        near = cv2.dilate((prob >= self.near_thresh).astype(np.uint8), np.ones((k, k), np.uint8))
        app = cv2.GaussianBlur(app, (0, 0), 1.5) * near
        if self.mode == "max":
            return np.maximum(prob, self.weight * app)
        return ((1.0 - self.weight) * prob + self.weight * app).astype(np.float32)

    def foreground_prob(self, bgr: np.ndarray) -> Optional[np.ndarray]:
        """(h, w) float32 p(foreground | colour) with equal priors, or None before any update."""
        if self.fg is None:
            return None
        eps = self.prior / self.fg.size
        table = (self.fg + eps) / (self.fg + self.bg + 2 * eps)
        return table[self._cells(bgr)].astype(np.float32)
