"""Scene sampling and rendering of one synthetic multi-object video (docs/synthetic.md).

A video is a panning camera over a real-image background canvas (``1 + pan_margin`` times the
frame size) with static, unannotated *distractors* pasted into the canvas, and 1-5 moving *primary*
objects drawn over it back to front. Everything is drawn from one ``np.random.Generator`` seeded by
the video's integer seed, so a seed fixes every byte of the output.

How a primary differs from a distractor (the paper's "primary object": salient and moving, Sec. 1):

=============  =========================================  ==========================================
               primary (annotated)                        distractor (part of the background)
=============  =========================================  ==========================================
texture        colourful photo (astronaut, cat, ...),     grayscale scene image (brick, coins, ...),
               saturation boosted                         weakly tinted, contrast 0.55-0.85x
edge           crisp, thin dark outline, drop shadow      feathered (blurred alpha), no outline
motion         own trajectory + scale + rotation          none: moves only with the camera pan
shape          the six shape families                     the same six families (shape is no cue)
=============  =========================================  ==========================================
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

from .synthetic_assets import CATEGORY_SPECS, OBJECT_TEXTURES, load_image, sample_shape
from .synthetic_canvas import _random_crop, _video_setup

__all__ = ["SyntheticConfig", "SyntheticVideo", "generate_video", "render_frames"]


@dataclass(frozen=True)
class SyntheticConfig:
    """Everything that shapes the rendered pixels (recorded in the dataset's manifest.json).

    Sizes are fractions of ``min(height, width)`` so a config renders the same scene layout at any
    resolution (192x320 for training, 480x854 for speed benchmarks).
    """

    height: int = 192
    width: int = 320
    length: int = 24  # frames per video
    min_objects: int = 1  # primary (annotated) objects per video
    max_objects: int = 5
    min_distractors: int = 2  # static unannotated objects per video
    max_distractors: int = 6
    object_radius: Tuple[float, float] = (0.1, 0.24)  # initial radius / min(H, W)
    scale_change: Tuple[float, float] = (0.6, 1.6)  # scale at the last frame / scale at the first
    max_rotation_deg: float = 3.0  # |angular speed| per frame
    enter_leave_prob: float = 0.5  # probability a primary's path crosses the frame border
    min_travel: float = 0.12  # minimal displacement w.r.t. the background over the clip / min(H, W)
    pan_prob: float = 0.85  # probability the camera pans
    pan_margin: float = 0.3  # canvas = (1 + pan_margin) x frame size; the pan stays inside it
    min_visible_frames: Optional[int] = None  # per primary; None = max(2, ceil(length / 4))
    min_visible_area: float = 0.002  # fraction of the frame area that counts as "visible"
    noise_std: float = 2.0  # sensor noise (gray levels)
    jpeg_quality: int = 90

    def __post_init__(self):
        if self.height < 16 or self.width < 16 or self.length < 1:
            raise ValueError(
                f"frame size must be >= 16x16 and length >= 1, got {self.height}x{self.width}x{self.length}"
            )
        if not 1 <= self.min_objects <= self.max_objects <= 254:
            raise ValueError(f"need 1 <= min_objects <= max_objects <= 254, got {self.min_objects}, {self.max_objects}")
        if not 0 <= self.min_distractors <= self.max_distractors:
            raise ValueError(
                f"need 0 <= min_distractors <= max_distractors, got {self.min_distractors}, {self.max_distractors}"
            )
        for name in ("object_radius", "scale_change"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(f"{name} must be a range 0 < lo <= hi, got {(lo, hi)}")
            object.__setattr__(self, name, (float(lo), float(hi)))  # JSON round trip gives lists
        if self.pan_margin < 0:
            raise ValueError(f"pan_margin must be >= 0, got {self.pan_margin}")

    @property
    def visible_frames_needed(self) -> int:
        n = self.min_visible_frames if self.min_visible_frames is not None else max(2, math.ceil(self.length / 4))
        return min(n, self.length)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


@dataclass
class SyntheticVideo:
    """One rendered video.

    frames: T np.uint8 (H, W, 3) BGR frames; id_maps: T np.uint8 (H, W) (0 background, k = k-th
    primary object, never overlapping); categories: {instance id: 0-based index into CATEGORIES}.
    distractor_masks: T bool (H, W), pixels where a distractor is drawn (under any primary).
    stats: ``amodal_area``/``visible_area`` int (K, T) pixels of object k+1 inside the frame before /
    after occlusion, ``z_order`` (ids back to front), ``paths`` (trajectory kind per id), ``scale``
    (K, T) size relative to frame 0,
    ``camera`` (T, 2) integer (x, y) canvas offsets, ``background`` (scene image name).
    """

    name: str
    seed: int
    frames: List[np.ndarray]
    id_maps: List[np.ndarray]
    categories: Dict[int, int]
    distractor_masks: List[np.ndarray] = field(default_factory=list)
    stats: dict = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------
# primary objects
# ------------------------------------------------------------------------------------------------
@dataclass
class _Primary:
    category: int
    outline: object
    params: dict
    radius: float  # at scale 1, pixels
    scale: np.ndarray  # (T,)
    angle: np.ndarray  # (T,) radians
    center: np.ndarray  # (T, 2) screen (x, y)
    path: str
    sprite: Optional[np.ndarray] = None  # float32 (P, P, 3) BGR texture
    outline_color: Optional[np.ndarray] = None


def _border_point(side: int, cfg: SyntheticConfig, out: float, rng) -> np.ndarray:
    """A point ``out`` pixels outside frame side 0 left, 1 right, 2 top, 3 bottom."""
    W, H = cfg.width, cfg.height
    if side < 2:
        return np.array([-out if side == 0 else W + out, rng.uniform(0, H)])
    return np.array([rng.uniform(0, W), -out if side == 2 else H + out])


def _sample_motion(p: _Primary, cfg: SyntheticConfig, cam: np.ndarray, rng, force_inside: bool) -> None:
    """Trajectory (centre per frame, screen coordinates), scale and rotation of one primary.

    Paths: "inside" (stays in view), "enter" (comes in through a border), "leave" (goes out),
    "cross" (enters and leaves). Retried until the object moves at least ``min_travel`` with
    respect to the background (camera motion included), so motion always tells it apart.
    """
    T, W, H = cfg.length, cfg.width, cfg.height
    unit = min(H, W)
    p.radius = rng.uniform(*cfg.object_radius) * unit
    ratio = math.exp(rng.uniform(*np.log(cfg.scale_change)))
    u = np.linspace(0, 1, T) if T > 1 else np.zeros(1)
    p.scale = ratio**u
    w = np.deg2rad(rng.uniform(-cfg.max_rotation_deg, cfg.max_rotation_deg))
    p.angle = rng.uniform(0, 2 * np.pi) + w * np.arange(T)
    rmax = p.radius * p.scale.max()
    cam_shift = (cam[-1] - cam[0]).astype(np.float64)
    for _ in range(50):
        kind = "inside"
        if not force_inside and rng.random() < cfg.enter_leave_prob:
            kind = ("enter", "leave", "cross")[int(rng.integers(3))]
        m = 0.6 * p.radius
        inside = lambda m=m: np.array([rng.uniform(m, W - m), rng.uniform(m, H - m)])  # noqa: E731
        out = lambda: rmax * rng.uniform(1.05, 2.0)  # noqa: E731
        s0, s1 = int(rng.integers(4)), int(rng.integers(4))
        if kind == "cross" and s1 == s0:
            s1 = s0 ^ 1  # the opposite side
        a = _border_point(s0, cfg, out(), rng) if kind in ("enter", "cross") else inside()
        b = _border_point(s1, cfg, out(), rng) if kind in ("leave", "cross") else inside()
        if np.linalg.norm(b - a + cam_shift) >= cfg.min_travel * unit:
            break
    d = b - a
    normal = np.array([-d[1], d[0]]) / (np.linalg.norm(d) + 1e-6)
    wobble = rng.uniform(0, 0.05) * unit * np.sin(2 * np.pi * (rng.uniform(0.3, 1.2) * u + rng.uniform()))
    p.center = a + u[:, None] * d + wobble[:, None] * normal
    p.path = kind


def _placement(p: _Primary, t: int, cfg: SyntheticConfig, thickness: int):
    """Frame-t polygon of a primary -> (x0, y0, uint8 ROI mask, ROI polygon*16 int32) or None if
    it is outside the frame. The mask is the filled polygon plus its outline stroke."""
    phase = t / max(1, cfg.length - 1)
    a = p.angle[t]
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    pts = p.outline(p.params, phase) @ rot.T * (p.radius * p.scale[t]) + p.center[t]
    pad = thickness + 1
    x0, y0 = max(0, int(math.floor(pts[:, 0].min())) - pad), max(0, int(math.floor(pts[:, 1].min())) - pad)
    x1 = min(cfg.width, int(math.ceil(pts[:, 0].max())) + pad + 1)
    y1 = min(cfg.height, int(math.ceil(pts[:, 1].max())) + pad + 1)
    if x1 <= x0 or y1 <= y0:
        return None
    poly = np.round((pts - (x0, y0)) * 16).astype(np.int32)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [poly], 1, cv2.LINE_8, 4)
    cv2.polylines(mask, [poly], True, 1, thickness, cv2.LINE_8, 4)
    if not mask.any():
        return None
    return x0, y0, mask.view(bool), poly


def _make_sprite(p: _Primary, rng) -> None:
    """Texture of a primary: a random crop of its category's photo, saturation and contrast boosted
    (HSV S x1.25-1.6, V contrast x1.1-1.25), at the object's largest on-screen size."""
    spec = CATEGORY_SPECS[p.category]
    src, box = OBJECT_TEXTURES[spec.texture]
    size = 2 * int(math.ceil(p.radius * p.scale.max())) + 4
    tex = _random_crop(load_image(src), rng, (size, size), frac=(0.2, 0.6), box=box)
    hsv = cv2.cvtColor(tex, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 1] = np.minimum(255, hsv[..., 1] * rng.uniform(1.25, 1.6) + 10)
    v = hsv[..., 2]
    hsv[..., 2] = np.clip((v - v.mean()) * rng.uniform(1.1, 1.25) + v.mean() + 8, 0, 255)
    p.sprite = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR).astype(np.float32)
    p.outline_color = p.sprite.reshape(-1, 3).mean(0) * rng.uniform(0.12, 0.3)


def _sprite_affine(p: _Primary, t: int, x0: int, y0: int) -> np.ndarray:
    """2x3 affine mapping sprite pixels to ROI pixels (rotation and scale about the sprite centre)."""
    half = (p.sprite.shape[0] - 1) / 2.0
    k = p.scale[t] * p.radius / (half - 1.5)  # on-screen pixels per sprite pixel (<= ~1)
    a = p.angle[t]
    A = k * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    b = p.center[t] - (x0, y0) - A @ np.array([half, half])
    return np.concatenate([A, b[:, None]], 1)


def _visible_areas(placements, z_order, cfg, occluders=None) -> Tuple[np.ndarray, np.ndarray]:
    """(K, T) amodal in-frame area and visible area (after z-ordered occlusion) per object.
    ``occluders``: optional T bool (H, W) masks of unannotated layers drawn over every object."""
    K, T = len(placements), cfg.length
    amodal, visible = np.zeros((K, T), np.int64), np.zeros((K, T), np.int64)
    for t in range(T):
        id_map = np.zeros((cfg.height, cfg.width), np.uint8)
        for k in z_order:
            pl = placements[k][t]
            if pl is None:
                continue
            x0, y0, m, _ = pl
            amodal[k, t] = m.sum()
            id_map[y0 : y0 + m.shape[0], x0 : x0 + m.shape[1]][m] = k + 1
        if occluders is not None:
            id_map[occluders[t]] = 0
        visible[:, t] = np.bincount(id_map.ravel(), minlength=K + 1)[1 : K + 1]
    return amodal, visible


def _draw_primary(frame, id_map, p: _Primary, obj_id: int, t: int, placement, shadow_off: int, thickness: int):
    """Draw one primary into ``frame`` (float32, in place) and mark it ``obj_id`` in ``id_map``:
    a soft drop shadow, the affine-warped texture inside the polygon, a dark outline on its border."""
    H, W = id_map.shape
    x0, y0, m, poly = placement
    h, w = m.shape
    # soft drop shadow: darkens what is already drawn (background or objects behind)
    sx0, sy0 = x0 - shadow_off, y0 - shadow_off  # the mask sits at +2*off in `sh`
    sh = np.zeros((h + 4 * shadow_off, w + 4 * shadow_off), np.float32)
    sh[2 * shadow_off : 2 * shadow_off + h, 2 * shadow_off : 2 * shadow_off + w] = m
    sh = cv2.GaussianBlur(sh, (0, 0), shadow_off * 0.8) * 0.45
    ax0, ay0 = max(0, sx0), max(0, sy0)
    ax1, ay1 = min(W, sx0 + sh.shape[1]), min(H, sy0 + sh.shape[0])
    frame[ay0:ay1, ax0:ax1] *= 1 - sh[ay0 - sy0 : ay1 - sy0, ax0 - sx0 : ax1 - sx0, None]
    # the object: affine-warped texture inside the polygon, dark outline on its border
    roi = frame[y0 : y0 + h, x0 : x0 + w]
    tex = cv2.warpAffine(
        p.sprite, _sprite_affine(p, t, x0, y0), (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101
    )
    cv2.polylines(tex, [poly], True, p.outline_color.tolist(), thickness, cv2.LINE_8, 4)
    roi[m] = tex[m]
    id_map[y0 : y0 + h, x0 : x0 + w][m] = obj_id


def draw_window(canvas, cx: int, cy: int, H: int, W: int, z_order, prims, placement_of, t: int, shadow_off, thickness):
    """The camera window at (cx, cy) of ``canvas`` with the primaries drawn back to front, and its
    id map; ``placement_of(k)`` is primary k's placement at frame t (None: not in the frame)."""
    frame = canvas[cy : cy + H, cx : cx + W].copy()
    id_map = np.zeros((H, W), np.uint8)
    for k in z_order:
        placement = placement_of(k)
        if placement is not None:
            _draw_primary(frame, id_map, prims[k], k + 1, t, placement, shadow_off, thickness)
    return frame, id_map


def render_frames(
    canvas,
    dmask,
    cam,
    prims,
    placements,
    z_order,
    cfg: SyntheticConfig,
    rng,
    thickness: int,
    overlay: Optional[Tuple[np.ndarray, np.ndarray]] = None,
):
    """Draw the T frames: camera window on ``canvas``, primaries back to front (drop shadow,
    warped texture, outline), then the optional unannotated ``overlay`` = (float32 (Hc, Wc, 3)
    colours, bool (Hc, Wc) mask) in canvas coordinates, drawn over everything (the hard preset's
    occluding walls; its pixels are background in the id map), then flicker and sensor noise.
    Returns (frames, id_maps, distractor masks)."""
    H, W, T = cfg.height, cfg.width, cfg.length
    unit = min(H, W)
    shadow_off = max(1, int(round(unit / 100)))
    flicker = 1 + rng.uniform(0, 0.04) * np.sin(2 * np.pi * (rng.uniform(0.5, 1.5) * np.arange(T) / T + rng.uniform()))
    frames, id_maps, dmasks = [], [], []
    for t in range(T):
        cx, cy = int(cam[t, 0]), int(cam[t, 1])
        frame, id_map = draw_window(
            canvas, cx, cy, H, W, z_order, prims, lambda k, t=t: placements[k][t], t, shadow_off, thickness
        )
        if overlay is not None:
            om = overlay[1][cy : cy + H, cx : cx + W]
            frame[om] = overlay[0][cy : cy + H, cx : cx + W][om]
            id_map[om] = 0
        frame *= flicker[t]
        if cfg.noise_std > 0:
            frame += rng.standard_normal(frame.shape, dtype=np.float32) * cfg.noise_std
        frames.append(np.clip(frame + 0.5, 0, 255).astype(np.uint8))
        id_maps.append(id_map)
        dmasks.append(dmask[cy : cy + H, cx : cx + W])
    return frames, id_maps, dmasks


def _sample_primaries(cfg: SyntheticConfig, cam: np.ndarray, rng) -> List[_Primary]:
    """K primaries: category, shape and motion each."""
    K = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
    prims: List[_Primary] = []
    for _ in range(K):
        cat = int(rng.integers(len(CATEGORY_SPECS)))
        outline, params = sample_shape(CATEGORY_SPECS[cat].shape, rng)
        p = _Primary(cat, outline, params, 0.0, None, None, None, "")
        _sample_motion(p, cfg, cam, rng, force_inside=False)
        prims.append(p)
    return prims


def _place_visibly(prims: List[_Primary], z_order, cfg: SyntheticConfig, cam, rng, thickness: int, seed: int):
    """Per-frame placements of the primaries; those not visible enough (too far out / hidden)
    are resampled until all are. Returns (placements, amodal areas, visible areas)."""
    T, H, W = cfg.length, cfg.height, cfg.width
    placements = [[_placement(p, t, cfg, thickness) for t in range(T)] for p in prims]
    need, min_area = cfg.visible_frames_needed, max(1, int(cfg.min_visible_area * H * W))
    for attempt in range(30):
        amodal, visible = _visible_areas(placements, z_order, cfg)
        bad = np.nonzero((visible >= min_area).sum(1) < need)[0]
        if bad.size == 0:
            return placements, amodal, visible
        for k in bad:
            _sample_motion(prims[k], cfg, cam, rng, force_inside=attempt >= 10)
            placements[k] = [_placement(prims[k], t, cfg, thickness) for t in range(T)]
    raise RuntimeError(f"seed {seed}: could not place the objects visibly; relax min_visible_* in {cfg}")


# ------------------------------------------------------------------------------------------------
def generate_video(seed: int, cfg: Optional[SyntheticConfig] = None, name: Optional[str] = None) -> SyntheticVideo:
    """Render one video; identical output for identical ``(seed, cfg)``.

    Args:
        seed: non-negative int; seeds the video's ``np.random.Generator``.
        cfg: the :class:`SyntheticConfig` (default: ``SyntheticConfig()``).
        name: video name (default ``synth_<seed>``).
    Returns:
        :class:`SyntheticVideo` with T frames (H, W, 3) BGR and T id maps (H, W).
    """
    cfg = cfg or SyntheticConfig()
    rng, H, W, T, unit, thickness, canvas, dmask, bg_name, cam = _video_setup(cfg, seed)
    prims = _sample_primaries(cfg, cam, rng)
    z_order = [int(k) for k in rng.permutation(len(prims))]  # back to front
    placements, amodal, visible = _place_visibly(prims, z_order, cfg, cam, rng, thickness, seed)
    for p in prims:
        _make_sprite(p, rng)

    frames, id_maps, dmasks = render_frames(canvas, dmask, cam, prims, placements, z_order, cfg, rng, thickness)
    stats = {
        "amodal_area": amodal,
        "visible_area": visible,
        "z_order": [k + 1 for k in z_order],
        "paths": {k + 1: p.path for k, p in enumerate(prims)},
        "scale": np.stack([p.scale for p in prims]),
        "camera": cam,
        "background": bg_name,
    }
    return SyntheticVideo(
        name=name or f"synth_{seed}",
        seed=int(seed),
        frames=frames,
        id_maps=id_maps,
        categories={k + 1: p.category for k, p in enumerate(prims)},
        distractor_masks=dmasks,
        stats=stats,
    )
