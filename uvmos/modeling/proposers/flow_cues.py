"""Motion cues for weight-free proposals on real video (no learned part, OpenCV only).

* :func:`dis_flow` -- dense optical flow, OpenCV's DIS (Kroeger et al. 2016), fast on CPU;
* :func:`camera_residual` -- camera-motion compensation: a RANSAC homography fitted to flow
  correspondences on a grid, subtracted from the flow (what is left moves on its own);
* :func:`motion_boundaries` -- FST's boundary strength (Papazoglou & Ferrari 2013, eq. 1-3): the
  gradient magnitude of the flow, reinforced where the flow direction changes sharply;
* :func:`fb_occlusion` -- pixels whose forward and backward flows disagree (occluded in the other
  frame, or flow that cannot be trusted), the check of Sundaram, Brox & Keutzer (ECCV 2010);
* :func:`inside_outside` -- FST's inside-outside map (§3.1): a pixel is inside a moving object
  when most rays cast from it cross the motion boundaries an odd number of times (4 directions
  with cumulative sums here; the paper casts 8 rays on the boundary map).
"""

from __future__ import annotations

from typing import Optional, Tuple

import cv2
import numpy as np

__all__ = ["dis_flow", "camera_residual", "fb_occlusion", "motion_boundaries", "inside_outside", "warp_backward"]

_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def make_dis(preset: str = "medium") -> "cv2.DISOpticalFlow":
    if preset not in _PRESETS:
        raise ValueError(f"DIS preset must be one of {sorted(_PRESETS)}, got {preset!r}")
    return cv2.DISOpticalFlow_create(_PRESETS[preset])


def dis_flow(dis: "cv2.DISOpticalFlow", gray_from: np.ndarray, gray_to: np.ndarray) -> np.ndarray:
    """Flow (h, w, 2) float32 at ``gray_from``'s pixels: ``gray_from[p] ~ gray_to[p + flow[p]]``."""
    return dis.calc(gray_from, gray_to, None)


def _grid(h: int, w: int) -> Tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return xs, ys


def camera_residual(
    flow: np.ndarray, step: int = 8, ransac_px: float = 1.0, border: int = 4
) -> Tuple[np.ndarray, Optional[np.ndarray], float]:
    """Flow minus the camera's homography flow.

    Returns ``(residual (h, w, 2), H (3x3) or None, inlier fraction)``. The homography maps each
    pixel p to where the background would move, fitted by RANSAC (``ransac_px`` reprojection
    threshold) on a ``step`` grid; when it cannot be fitted the residual is the flow minus its median
    (a translation model)."""
    h, w = flow.shape[:2]
    ys, xs = np.mgrid[border : h - border : step, border : w - border : step]
    src = np.stack([xs.ravel(), ys.ravel()], 1).astype(np.float32)
    dst = src + flow[ys.ravel(), xs.ravel()]
    H, inl = (None, None)
    if len(src) >= 8:
        H, inl = cv2.findHomography(src, dst, cv2.RANSAC, ransac_px, maxIters=500, confidence=0.99)
    gx, gy = _grid(h, w)
    if H is None:
        med = np.median(flow.reshape(-1, 2), axis=0)
        return flow - med[None, None], None, 0.0
    den = H[2, 0] * gx + H[2, 1] * gy + H[2, 2]
    den = np.where(np.abs(den) < 1e-6, 1e-6, den)
    cam = np.empty_like(flow)
    cam[..., 0] = (H[0, 0] * gx + H[0, 1] * gy + H[0, 2]) / den - gx
    cam[..., 1] = (H[1, 0] * gx + H[1, 1] * gy + H[1, 2]) / den - gy
    return flow - cam, H, float(inl.mean()) if inl is not None else 0.0


def motion_boundaries(flow: np.ndarray, lam: float = 7.0, theta_lam: float = 2.0, theta_t: float = 0.785) -> np.ndarray:
    """FST boundary strength in [0, 1] (Papazoglou & Ferrari 2013, eq. 1-3):
    b_m = 1 - exp(-lam * |grad flow|); where b_m <= 0.5 it is replaced by b_m * b_theta, with
    b_theta = 1 - exp(-theta_lam * max angle to the 4-neighbours' flow - theta_t) kept >= 0."""
    fx, fy = flow[..., 0], flow[..., 1]
    gx = cv2.Sobel(fx, cv2.CV_32F, 1, 0, ksize=3) ** 2 + cv2.Sobel(fy, cv2.CV_32F, 1, 0, ksize=3) ** 2
    gy = cv2.Sobel(fx, cv2.CV_32F, 0, 1, ksize=3) ** 2 + cv2.Sobel(fy, cv2.CV_32F, 0, 1, ksize=3) ** 2
    bm = 1.0 - np.exp(-lam * np.sqrt(gx + gy) / 8.0)  # /8: the Sobel kernel's weight sum
    ang = np.arctan2(fy, fx)
    dmax = np.zeros_like(ang)
    for dy, dx in ((0, 1), (1, 0)):
        d = np.abs(ang - np.roll(ang, (dy, dx), axis=(0, 1)))
        d = np.minimum(d, 2 * np.pi - d)
        dmax = np.maximum(dmax, np.maximum(d, np.roll(d, (-dy, -dx), axis=(0, 1))))
    btheta = np.clip(1.0 - np.exp(-theta_lam * (dmax - theta_t)), 0.0, 1.0)
    return np.where(bm > 0.5, bm, bm * btheta).astype(np.float32)


def fb_occlusion(flow_b: np.ndarray, flow_f: np.ndarray, alpha: float = 0.01, beta: float = 0.5) -> np.ndarray:
    """(h, w) bool at frame t's pixels: True where the flow t -> t' (``flow_b``) and the flow
    t' -> t (``flow_f``, on t''s pixels) do not cancel out, i.e. |w + w'|^2 > alpha (|w|^2 + |w'|^2)
    + beta, with w' = ``flow_f`` sampled at p + w(p) (Sundaram et al. 2010, eq. 5). Mostly the
    background an object has just uncovered: it has no match in frame t', and its flow is the
    object's, smeared over it by the flow's regulariser."""
    back = warp_backward(flow_f, flow_b)
    err = ((flow_b + back) ** 2).sum(-1)
    return err > alpha * ((flow_b**2).sum(-1) + (back**2).sum(-1)) + beta


def inside_outside(boundary: np.ndarray, min_rays: int = 3) -> np.ndarray:
    """Inside-outside map (FST §3.1): rays left/right/up/down from each pixel; the number of times
    a ray enters a boundary segment is counted with a cumulative sum; a pixel is inside when at
    least ``min_rays`` of the 4 rays cross an odd number of times. ``boundary``: (h, w) bool."""
    b = boundary.astype(np.int32)
    h, w = b.shape
    enter_x = np.zeros_like(b)
    enter_x[:, 1:] = (b[:, 1:] > b[:, :-1]).astype(np.int32)  # 0 -> 1 along +x
    enter_x[:, 0] = b[:, 0]
    enter_y = np.zeros_like(b)
    enter_y[1:] = (b[1:] > b[:-1]).astype(np.int32)
    enter_y[0] = b[0]
    cx = np.cumsum(enter_x, 1)
    cy = np.cumsum(enter_y, 0)
    # crossings strictly left of x / right of x (a run of boundary pixels is one crossing)
    left = cx - enter_x
    right = cx[:, -1:] - cx
    up = cy - enter_y
    down = cy[-1:] - cy
    odd = (left & 1) + (right & 1) + (up & 1) + (down & 1)
    return (odd >= min_rays) & ~boundary


def warp_backward(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample ``image`` (of the other frame) at ``p + flow[p]``: brings it onto the flow's frame."""
    h, w = flow.shape[:2]
    gx, gy = _grid(h, w)
    return cv2.remap(image, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
