"""Dense optical flow (OpenCV's DIS, Kroeger et al. ECCV 2016) and mask warping along it.

UnOVOST links a segment of frame t-1 to one of frame t when the t-1 segment, warped to frame t by
optical flow, overlaps it (§3.2 of Luiten et al.). UnOVOST used PWC-Net; we use OpenCV's DIS flow
(``cv2.DISOpticalFlow``), a maintained CPU implementation (no flow code of our own).

Warping is backward: the flow is computed from frame t to frame t-1, so each pixel x of frame t
looks up where it came from, ``mask_t(x) = mask_{t-1}(x + flow(x))`` (``cv2.remap``, bilinear,
threshold 0.5). This has no holes, unlike splatting the t-1 mask forward.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["dis_flow", "warp_mask", "to_gray"]

_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


def to_gray(image: np.ndarray, fmt: str = "BGR") -> np.ndarray:
    """(H, W, 3) uint8 in ``fmt`` or (H, W) -> (H, W) uint8 gray."""
    if image.ndim == 2:
        return np.ascontiguousarray(image, dtype=np.uint8)
    code = cv2.COLOR_BGR2GRAY if fmt == "BGR" else cv2.COLOR_RGB2GRAY
    return cv2.cvtColor(np.ascontiguousarray(image, dtype=np.uint8), code)


def dis_flow(src_gray: np.ndarray, dst_gray: np.ndarray, preset: str = "medium") -> np.ndarray:
    """DIS flow (H, W, 2) float32 (dx, dy) such that ``src(x) ~ dst(x + flow(x))``.

    For the backward warping of the module doc call it as ``dis_flow(frame_t, frame_t_minus_1)``.
    """
    if preset not in _PRESETS:
        raise ValueError(f"dis_flow: preset must be one of {sorted(_PRESETS)}, got {preset!r}")
    if src_gray.shape != dst_gray.shape or src_gray.ndim != 2:
        raise ValueError(f"dis_flow: expected two gray images of one size, got {src_gray.shape} and {dst_gray.shape}")
    return cv2.DISOpticalFlow_create(_PRESETS[preset]).calc(src_gray, dst_gray, None)


def resize_flow(flow: np.ndarray, size: tuple) -> np.ndarray:
    """Flow of an (h, w) image -> flow of the same scene at ``size`` = (H, W) (vectors rescaled)."""
    h, w = flow.shape[:2]
    H, W = int(size[0]), int(size[1])
    if (h, w) == (H, W):
        return flow
    out = cv2.resize(flow, (W, H), interpolation=cv2.INTER_LINEAR)
    out[..., 0] *= W / w
    out[..., 1] *= H / h
    return out


def warp_mask(mask: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Backward-warp a bool (H, W) mask of frame t-1 to frame t with the t -> t-1 ``flow`` (H, W, 2).

    ``out(x) = mask(x + flow(x)) >= 0.5``, bilinear; pixels looking outside the frame are 0.
    """
    if mask.shape != flow.shape[:2]:
        raise ValueError(f"warp_mask: mask {mask.shape} and flow {flow.shape[:2]} sizes differ")
    H, W = mask.shape
    gx, gy = np.meshgrid(np.arange(W, dtype=np.float32), np.arange(H, dtype=np.float32))
    out = cv2.remap(
        mask.astype(np.float32),
        gx + flow[..., 0],
        gy + flow[..., 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return out >= 0.5
