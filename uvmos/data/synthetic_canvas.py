"""Background of a synthetic video: the panning camera's canvas, its distractors, the camera path.

The canvas is a real scene image ``1 + pan_margin`` times the frame size, with static, unannotated
*distractors* (grayscale scene textures, weakly tinted, low contrast, feathered edges) pasted into it
(docs/synthetic.md). Every function draws from the video's ``np.random.Generator`` in a fixed order.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Tuple

import cv2
import numpy as np

from .synthetic_assets import SCENE_IMAGES, SHAPE_FAMILIES, load_image, sample_shape

if TYPE_CHECKING:
    from .synthetic_render import SyntheticConfig


def _random_crop(img: np.ndarray, rng, out_hw: Tuple[int, int], frac=(0.5, 1.0), box=(0.0, 1.0, 0.0, 1.0)):
    """Random axis-aligned crop of ``img`` (within the fractional ``box``) with the aspect of
    ``out_hw``, randomly flipped/rotated by 90 degrees, resized to ``out_hw``."""
    if rng.random() < 0.5:
        img = img.transpose(1, 0, 2)  # with a flip below: all 8 dihedral variants
    h0, w0 = img.shape[:2]
    y0, y1, x0, x1 = int(box[0] * h0), int(box[1] * h0), int(box[2] * w0), int(box[3] * w0)
    img = img[y0:y1, x0:x1]
    h, w = img.shape[:2]
    oh, ow = out_hw
    s = rng.uniform(*frac) * min(h / oh, w / ow)  # source pixels per output pixel
    ch, cw = max(2, min(h, int(round(oh * s)))), max(2, min(w, int(round(ow * s))))
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    crop = img[y : y + ch, x : x + cw]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    interp = cv2.INTER_AREA if ch > oh else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(crop), (ow, oh), interpolation=interp)


def _tint(rng, max_sat: float = 0.22) -> np.ndarray:
    """A weak colour cast (BGR gains, max 1): saturation of a tinted gray image <= max_sat."""
    g = 1.0 - rng.uniform(0, max_sat, 3)
    return (g / g.max()).astype(np.float32)


def _video_setup(cfg, seed: int):
    """What every preset draws first, in this order (the order fixes the random stream): the
    generator, sizes, outline thickness, the background canvas and the camera path."""
    rng = np.random.default_rng(int(seed))
    H, W, T = cfg.height, cfg.width, cfg.length
    unit = min(H, W)
    thickness = max(1, int(round(unit / 200)))
    canvas, dmask, bg_name = _make_canvas(cfg, rng)
    cam = _camera_path(cfg, rng)
    return rng, H, W, T, unit, thickness, canvas, dmask, bg_name, cam


def _make_canvas(cfg: SyntheticConfig, rng) -> Tuple[np.ndarray, np.ndarray, str]:
    """Background canvas float32 (Hc, Wc, 3) with distractors; their mask bool (Hc, Wc); its name."""
    H, W = cfg.height, cfg.width
    Hc, Wc = H + int(round(cfg.pan_margin * H)), W + int(round(cfg.pan_margin * W))
    bg_name = SCENE_IMAGES[int(rng.integers(len(SCENE_IMAGES)))]
    canvas = _random_crop(load_image(bg_name), rng, (Hc, Wc), frac=(0.7, 1.0)).astype(np.float32)
    mean = canvas.mean()
    canvas = (canvas - mean) * rng.uniform(0.8, 1.1) + mean * rng.uniform(0.85, 1.1)
    canvas *= _tint(rng)

    unit = min(H, W)
    dmask = np.zeros((Hc, Wc), bool)
    others = [n for n in SCENE_IMAGES if n != bg_name]
    for _ in range(int(rng.integers(cfg.min_distractors, cfg.max_distractors + 1))):
        family = list(SHAPE_FAMILIES)[int(rng.integers(len(SHAPE_FAMILIES)))]
        outline, params = sample_shape(family, rng)
        r = rng.uniform(*cfg.object_radius) * unit * rng.uniform(0.8, 1.3)
        ang = rng.uniform(0, 2 * np.pi)
        c = np.array([rng.uniform(0, Wc), rng.uniform(0, Hc)])
        rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
        pts = outline(params, 0.0) @ rot.T * r + c
        sigma = max(0.8, 0.06 * r)  # feathered edge
        pad = int(math.ceil(3 * sigma)) + 1
        x0, y0 = max(0, int(pts[:, 0].min()) - pad), max(0, int(pts[:, 1].min()) - pad)
        x1, y1 = min(Wc, int(pts[:, 0].max()) + pad + 1), min(Hc, int(pts[:, 1].max()) + pad + 1)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        tex_name = others[int(rng.integers(len(others)))]
        tex = _random_crop(load_image(tex_name), rng, (y1 - y0, x1 - x0), frac=(0.3, 0.8))
        tex = tex.astype(np.float32) * _tint(rng)
        region = canvas[y0:y1, x0:x1]
        alpha = np.zeros((y1 - y0, x1 - x0), np.float32)
        cv2.fillPoly(alpha, [np.round((pts - (x0, y0)) * 16).astype(np.int32)], 1.0, cv2.LINE_8, 4)
        alpha = cv2.GaussianBlur(alpha, (0, 0), sigma) * rng.uniform(0.85, 1.0)
        # low contrast: the texture's deviations shrink around the local background mean
        tex = region.mean((0, 1)) + rng.uniform(0.55, 0.85) * (tex - tex.mean((0, 1)))
        region += alpha[..., None] * (tex - region)
        dmask[y0:y1, x0:x1] |= alpha > 0.35
    return canvas, dmask, bg_name


def _camera_path(cfg: SyntheticConfig, rng) -> np.ndarray:
    """(T, 2) integer (x, y) top-left offsets of the frame in the canvas (smooth-step pan)."""
    Mx, My = int(round(cfg.pan_margin * cfg.width)), int(round(cfg.pan_margin * cfg.height))
    c0 = np.array([rng.uniform(0, Mx), rng.uniform(0, My)])
    c1 = np.array([rng.uniform(0, Mx), rng.uniform(0, My)]) if rng.random() < cfg.pan_prob else c0
    u = np.linspace(0, 1, cfg.length)[:, None] if cfg.length > 1 else np.zeros((1, 1))
    u = 3 * u**2 - 2 * u**3
    return np.round(c0 + (c1 - c0) * u).astype(np.int64)
