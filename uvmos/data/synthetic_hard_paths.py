"""Paths and walls of the hard synthetic preset (:mod:`uvmos.data.synthetic_hard`, docs/synthetic.md).

Every path is a chain of waypoints ``(t, scene point)``, linear between them, with a new speed and a
45-180 degree turn at every waypoint. Paths live in scene (canvas) coordinates, so the wall and the
objects hidden behind it move together with the camera pan. One function per role: twins crossing,
an object hidden behind an opaque wall, an object leaving and returning, free random walks.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, List, Optional, Tuple

import cv2
import numpy as np

from .synthetic_assets import CATEGORY_SPECS, SCENE_IMAGES, load_image, sample_shape
from .synthetic_canvas import _random_crop, _tint
from .synthetic_render import _Primary

if TYPE_CHECKING:
    from .synthetic_hard import HardSyntheticConfig


class _Scene:
    def __init__(self, cfg: HardSyntheticConfig, cam: np.ndarray, rng):
        self.cfg, self.cam, self.rng = cfg, cam, rng
        self.H, self.W, self.T = cfg.height, cfg.width, cfg.length
        self.unit = min(self.H, self.W)

    def to_scene(self, t: float, p: np.ndarray) -> np.ndarray:
        return np.asarray(p, np.float64) + self.cam[int(np.clip(round(t), 0, self.T - 1))]

    def centres(self, waypoints: List[Tuple[float, np.ndarray]]) -> np.ndarray:
        """(T, 2) screen centres from waypoints in scene coordinates (linear in between)."""
        wp = sorted(waypoints, key=lambda w: w[0])
        ts = np.array([w[0] for w in wp], np.float64)
        ps = np.stack([w[1] for w in wp])
        t = np.arange(self.T, dtype=np.float64)
        scene = np.stack([np.interp(t, ts, ps[:, 0]), np.interp(t, ts, ps[:, 1])], 1)
        return scene - self.cam

    def walk(
        self, p0: np.ndarray, t0: float, t_stop: float, margin: float, direction: int
    ) -> List[Tuple[float, np.ndarray]]:
        """Random waypoints from scene point ``p0`` at ``t0`` on to ``t_stop`` (``direction`` +1
        forwards, -1 backwards in time): per segment a new speed and a 45-180 degree turn; the
        screen position is reflected into the frame shrunk by ``margin``."""
        cfg, rng = self.cfg, self.rng
        out, t, p = [], float(t0), np.asarray(p0, np.float64)
        heading = rng.uniform(0, 2 * np.pi)
        lo = np.array([margin, margin])
        hi = np.array([self.W - margin, self.H - margin])
        while (t < t_stop) if direction > 0 else (t > t_stop):
            d = int(rng.integers(cfg.segment_frames[0], cfg.segment_frames[1] + 1))
            heading += rng.choice([-1.0, 1.0]) * rng.uniform(np.pi / 4, np.pi)
            v = rng.uniform(*cfg.speed) * self.unit
            t_next = t + direction * d
            q = (
                p
                - self.cam[int(np.clip(round(t), 0, self.T - 1))]
                + v * d * np.array([np.cos(heading), np.sin(heading)])
            )
            for _ in range(3):  # reflect into [lo, hi]
                q = np.where(q < lo, 2 * lo - q, q)
                q = np.where(q > hi, 2 * hi - q, q)
            q = np.clip(q, lo, hi)
            p, t = self.to_scene(t_next, q), t_next
            out.append((t, p))
        return out

    def inside_point(self, margin: float) -> np.ndarray:
        return np.array([self.rng.uniform(margin, self.W - margin), self.rng.uniform(margin, self.H - margin)])

    def border_point(self, side: int, out: float, along: Optional[float] = None) -> np.ndarray:
        """Screen point ``out`` px outside side 0 left, 1 right, 2 top, 3 bottom."""
        W, H = self.W, self.H
        if side < 2:
            y = self.rng.uniform(0.15, 0.85) * H if along is None else along
            return np.array([-out if side == 0 else W + out, y])
        x = self.rng.uniform(0.15, 0.85) * W if along is None else along
        return np.array([x, -out if side == 2 else H + out])


def _new_primary(cat: int, radius: float, scale: np.ndarray, angle: np.ndarray, rng, params=None) -> _Primary:
    outline, sampled = sample_shape(CATEGORY_SPECS[cat].shape, rng)
    return _Primary(cat, outline, sampled if params is None else params, radius, scale, angle, None, "")


def _scale_angle(sc: _Scene, ratio_range) -> Tuple[np.ndarray, np.ndarray]:
    rng, T = sc.rng, sc.T
    u = np.linspace(0, 1, T)
    scale = math.exp(rng.uniform(*np.log(ratio_range))) ** u
    w = np.deg2rad(rng.uniform(-sc.cfg.max_rotation_deg, sc.cfg.max_rotation_deg))
    return scale, rng.uniform(0, 2 * np.pi) + w * np.arange(T)


def _r_eff(p: _Primary, thickness: int) -> float:
    return p.radius * float(p.scale.max()) + thickness + 2


def _free_path(sc: _Scene, p: _Primary, thickness: int, late: bool) -> None:
    """A random walk over the whole video; ``late``: starts outside a border and enters later."""
    rng, T = sc.rng, sc.T
    m = 0.5 * p.radius
    if late:
        t_in = float(rng.integers(4, T // 2))
        side = int(rng.integers(4))
        start = sc.to_scene(t_in, sc.border_point(side, _r_eff(p, thickness) + 2))
        wps = [(t_in, start), (-1.0, start)] + sc.walk(start, t_in, T, m, +1)
        p.path = "enter"
    else:
        t0 = float(rng.integers(0, T))
        start = sc.to_scene(t0, sc.inside_point(m))
        wps = [(t0, start)] + sc.walk(start, t0, T, m, +1) + sc.walk(start, t0, -1, m, -1)
        p.path = "walk"
    p.center = sc.centres(wps)
    p.waypoints = wps


def _twin_paths(sc: _Scene, a: _Primary, b: _Primary) -> None:
    """Both twins pass the same screen point X at time tc from directions >= 60 degrees apart."""
    rng, T = sc.rng, sc.T
    tc = float(rng.integers(int(0.25 * T), int(0.75 * T)))
    X = sc.to_scene(tc, np.array([rng.uniform(0.3, 0.7) * sc.W, rng.uniform(0.3, 0.7) * sc.H]))
    th_a = rng.uniform(0, 2 * np.pi)
    th_b = th_a + rng.choice([-1.0, 1.0]) * rng.uniform(np.pi / 3, np.pi)
    for p, th in ((a, th_a), (b, th_b)):
        v = rng.uniform(0.5, 1.0) * sc.cfg.speed[1] * sc.unit
        d1, d2 = int(rng.integers(5, 11)), int(rng.integers(5, 11))
        u = np.array([np.cos(th), np.sin(th)])
        p0, p1 = X - u * v * d1, X + u * v * d2
        m = 0.5 * p.radius
        wps = [(tc - d1, p0), (tc, X), (tc + d2, p1)] + sc.walk(p1, tc + d2, T, m, +1) + sc.walk(p0, tc - d1, -1, m, -1)
        p.center, p.waypoints, p.path = sc.centres(wps), wps, "twin"


def _make_wall(sc: _Scene, p: _Primary, thickness: int):
    """An opaque slab (vertical pillar or horizontal beam) in scene coordinates, large enough to hide
    ``p`` completely. Returns (x0, y0, x1, y1) in scene pixels and its orientation."""
    rng = sc.rng
    r = _r_eff(p, thickness)
    vertical = rng.random() < 0.5
    half_thin = r + rng.uniform(2, max(3.0, 0.5 * r))
    half_long = r + (rng.uniform(0.3, 0.8) * sc.H if vertical else rng.uniform(0.2, 0.5) * sc.W) / 2
    hw, hh = (half_thin, half_long) if vertical else (half_long, half_thin)
    hw, hh = min(hw, 0.38 * sc.W), min(hh, 0.45 * sc.H)
    tm = sc.T / 2
    c = sc.to_scene(
        tm,
        np.array(
            [
                rng.uniform(hw + 0.1 * sc.W, sc.W - hw - 0.1 * sc.W),
                rng.uniform(max(hh, 0.3 * sc.H), sc.H - max(hh, 0.3 * sc.H)),
            ]
        ),
    )
    return np.array([c[0] - hw, c[1] - hh, c[0] + hw, c[1] + hh]), vertical


def _occluded_path(sc: _Scene, p: _Primary, wall: np.ndarray, vertical: bool, thickness: int) -> None:
    """Approach the wall, move inside its hiding zone for g frames, leave on either side."""
    rng, T, cfg = sc.rng, sc.T, sc.cfg
    r = _r_eff(p, thickness)
    zx0, zy0, zx1, zy1 = wall[0] + r, wall[1] + r, wall[2] - r, wall[3] - r
    if zx1 < zx0 or zy1 < zy0:  # the wall was clipped to the frame: hide along the centre
        cx, cy = (wall[0] + wall[2]) / 2, (wall[1] + wall[3]) / 2
        zx0, zx1, zy0, zy1 = cx, cx, cy, cy
    lo, hi = cfg.occlusion_frames
    g = int(rng.integers(lo, max(lo + 1, hi - 5)))
    t_in = float(rng.integers(6, T - g - 6))
    t_out = t_in + g
    axis = 0 if vertical else 1  # approach across the thin side
    zlo, zhi = (zx0, zx1) if axis == 0 else (zy0, zy1)
    olo, ohi = (zy0, zy1) if axis == 0 else (zx0, zx1)

    def zone_point(side: int) -> np.ndarray:
        q = np.empty(2)
        q[axis] = zlo if side == 0 else zhi
        q[1 - axis] = rng.uniform(olo, ohi)
        return q

    def outside_point(side: int, dist: float) -> np.ndarray:
        q = np.empty(2)
        wlo, whi = (wall[0], wall[2]) if axis == 0 else (wall[1], wall[3])
        q[axis] = wlo - r - dist if side == 0 else whi + r + dist
        q[1 - axis] = rng.uniform(olo, ohi)
        return q

    s_in, s_out = int(rng.integers(2)), int(rng.integers(2))
    da, db = int(rng.integers(4, 12)), int(rng.integers(4, 12))
    a = outside_point(s_in, rng.uniform(2, 30))
    e1, e2 = zone_point(s_in), zone_point(s_out)
    b = outside_point(s_out, rng.uniform(2, 30))
    m = 0.5 * p.radius
    wps = [(t_in - da, a), (t_in, e1), (t_out, e2), (t_out + db, b)]
    wps += sc.walk(b, t_out + db, T, m, +1) + sc.walk(a, t_in - da, -1, m, -1)
    p.center, p.waypoints, p.path = sc.centres(wps), wps, "occluded"


def _exit_return_path(sc: _Scene, p: _Primary, thickness: int) -> None:
    """Leave through one side, stay out of view for o frames, come back through the same side."""
    rng, T, cfg = sc.rng, sc.T, sc.cfg
    r = _r_eff(p, thickness)
    o = int(rng.integers(cfg.out_of_view_frames[0], cfg.out_of_view_frames[1] + 1))
    d1, d2 = int(rng.integers(6, 15)), int(rng.integers(6, 15))
    t1 = float(rng.integers(4, max(5, T - o - d1 - d2 - 4)))
    t2, t3, t4 = t1 + d1, t1 + d1 + o, t1 + d1 + o + d2
    side = int(rng.integers(4))
    pan = np.abs(sc.cam[-1] - sc.cam[0]).max()  # the camera may move the border towards the object
    out = r + 3 + pan * 0.5
    inward = 1.5 * p.radius
    P2, P3 = sc.border_point(side, out), sc.border_point(side, out)
    P1, P4 = sc.border_point(side, -inward), sc.border_point(side, -inward)
    wps = [(t1, sc.to_scene(t1, P1)), (t2, sc.to_scene(t2, P2)), (t3, sc.to_scene(t3, P3)), (t4, sc.to_scene(t4, P4))]
    m = 0.5 * p.radius
    wps += sc.walk(wps[-1][1], t4, T, m, +1) + sc.walk(wps[0][1], t1, -1, m, -1)
    p.center, p.waypoints, p.path = sc.centres(wps), wps, "exit_return"


def _wall_layer(sc: _Scene, wall: np.ndarray, canvas_shape, bg_name: str, rng) -> Tuple[np.ndarray, np.ndarray]:
    """Colour (float32 (Hc, Wc, 3)) and mask (bool) of the wall in canvas coordinates: a tinted
    scene texture (not the background's), full contrast, with a dark rim and a soft vertical shading."""
    Hc, Wc = canvas_shape[:2]
    x0, y0 = max(0, int(round(wall[0]))), max(0, int(round(wall[1])))
    x1, y1 = min(Wc, int(round(wall[2]))), min(Hc, int(round(wall[3])))
    colour = np.zeros((Hc, Wc, 3), np.float32)
    mask = np.zeros((Hc, Wc), bool)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return colour, mask
    others = [n for n in SCENE_IMAGES if n != bg_name]
    tex = _random_crop(load_image(others[int(rng.integers(len(others)))]), rng, (y1 - y0, x1 - x0), frac=(0.4, 0.9))
    tex = tex.astype(np.float32) * _tint(rng) * rng.uniform(0.7, 1.05)
    shade = np.linspace(rng.uniform(0.8, 1.0), rng.uniform(0.8, 1.0), x1 - x0, dtype=np.float32)
    tex *= shade[None, :, None]
    rim = max(1, int(round(sc.unit / 150)))
    cv2.rectangle(
        tex, (0, 0), (x1 - x0 - 1, y1 - y0 - 1), tuple(float(c) for c in tex.reshape(-1, 3).mean(0) * 0.35), rim
    )
    colour[y0:y1, x0:x1] = tex
    mask[y0:y1, x0:x1] = True
    return colour, mask
