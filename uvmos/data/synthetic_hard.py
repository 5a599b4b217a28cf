"""The "hard" preset of the synthetic benchmark: scenes where association matters (docs/synthetic.md).

The default preset's objects move smoothly and look different, so greedy IoU matching suffices.
Every video of this preset is built from *roles* that defeat IoU matching and test the paper's
verification, re-identification and memory (§3.2: "occlusions", "newly-appearing objects";
§4.4: "occlusions, scale variations, fast motion"):

* **twins** -- two objects of the same shape *and* size (one outline, one radius, one scale and
  rotation curve) with different textures (a category pair sharing a shape family:
  cat_ellipse/cells_ellipse or astronaut_star/cat_star) whose paths cross: at the crossing the
  front twin covers the back one completely;
* **occluded** -- an object that goes fully behind an opaque, unannotated *wall* (a static slab of
  scene texture, drawn over every object) and stays hidden for ``occlusion_frames`` (10-40) frames
  before it re-appears;
* **exit-return** -- an object that leaves the frame, is out of view for ``out_of_view_frames``
  (4-20) frames and comes back through the same side;
* **look-alike** (probability ``lookalike_prob``) -- a further object of the *same category* as one of
  the above (same shape family and texture photo, another crop, radius within 10%); half of them
  enter the frame late;
* **extras** -- up to ``max_objects`` in all, random walks; 40% of them enter late.

Every path is a chain of waypoints, linear between them, with a new speed (``speed``, per frame) and
a turn of 45-180 degrees at every waypoint: sudden speed and direction changes. Sizes change
geometrically by a ratio in ``scale_change`` (0.5-2), the occluded object's by 0.8-1.25 so it fits
behind its wall. Paths live in scene (canvas) coordinates, so the wall and the objects hidden
behind it move together with the camera pan.

The roles are *checked on the rendered masks*, not assumed: the occluded object's longest run of
frames with zero visible pixels while inside the frame is in ``occlusion_frames``, the exit-return
object has a run of frames entirely outside the frame between visible frames, and every object is
visible in at least ``visible_frames_needed`` frames. A failing role is resampled (the rng keeps
running, so a seed still fixes every byte). ``stats`` records the roles and measured gaps.
Paths and walls: :mod:`uvmos.data.synthetic_hard_paths`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np

from .synthetic_assets import CATEGORY_SPECS
from .synthetic_canvas import _video_setup
from .synthetic_hard_paths import (
    _exit_return_path,
    _free_path,
    _make_wall,
    _new_primary,
    _occluded_path,
    _scale_angle,
    _Scene,
    _twin_paths,
    _wall_layer,
)
from .synthetic_render import (
    SyntheticConfig,
    SyntheticVideo,
    _make_sprite,
    _placement,
    _Primary,
    _visible_areas,
    render_frames,
)

__all__ = [
    "HardSyntheticConfig",
    "generate_hard_video",
    "TWIN_CATEGORY_PAIRS",
    "longest_hidden_run",
    "out_of_view_runs",
]

# category index pairs sharing a shape family with different textures (synthetic_assets.CATEGORY_SPECS)
TWIN_CATEGORY_PAIRS: Tuple[Tuple[int, int], ...] = ((1, 6), (0, 7))  # ellipse: cat/cells; star: astronaut/cat


@dataclass(frozen=True)
class HardSyntheticConfig(SyntheticConfig):
    """The hard preset (``preset="hard"`` in the manifest). Inherited fields keep their meaning;
    the defaults differ: 64 frames, 4-6 objects, smaller objects, stronger scale change, milder pan.
    ``min_objects`` must be >= 4 (two twins, occluded, exit-return)."""

    length: int = 64
    min_objects: int = 4
    max_objects: int = 6
    min_distractors: int = 2
    max_distractors: int = 4
    object_radius: Tuple[float, float] = (0.08, 0.14)
    scale_change: Tuple[float, float] = (0.5, 2.0)
    pan_prob: float = 0.5
    pan_margin: float = 0.15
    preset: str = "hard"
    occlusion_frames: Tuple[int, int] = (10, 40)  # full-occlusion gap behind the wall (checked)
    out_of_view_frames: Tuple[int, int] = (4, 20)  # exit-return: frames entirely out of view
    lookalike_prob: float = 0.7
    late_entry_prob: float = 0.4  # extras (and half the look-alikes) enter from outside later
    speed: Tuple[float, float] = (0.004, 0.03)  # per-segment speed / min(H, W) per frame
    segment_frames: Tuple[int, int] = (5, 18)  # frames between waypoints

    def __post_init__(self):
        super().__post_init__()
        if self.preset != "hard":
            raise ValueError(f"HardSyntheticConfig.preset must be 'hard', got {self.preset!r}")
        if self.min_objects < 4:
            raise ValueError(
                f"the hard preset needs min_objects >= 4 (twins, occluded, exit-return), got {self.min_objects}"
            )
        for name in ("occlusion_frames", "out_of_view_frames", "speed", "segment_frames"):
            lo, hi = getattr(self, name)
            if not 0 < lo <= hi:
                raise ValueError(f"{name} must be a range 0 < lo <= hi, got {(lo, hi)}")
            object.__setattr__(self, name, (type(lo)(lo), type(hi)(hi)))
        if self.length < self.occlusion_frames[1] + 16:
            raise ValueError(
                f"length {self.length} is too short for occlusions of {self.occlusion_frames} frames "
                f"(need >= {self.occlusion_frames[1] + 16})"
            )


# ------------------------------------------------------------------------------------------------
# measured events (also used by the tests)
# ------------------------------------------------------------------------------------------------
def _runs(flags: np.ndarray) -> List[Tuple[int, int]]:
    """[start, end) of the runs of True in a 1-D bool array."""
    d = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def longest_hidden_run(amodal: np.ndarray, visible: np.ndarray) -> int:
    """Longest run of frames where the object is inside the frame (amodal > 0) but has no visible
    pixel, with visible frames before and after it (a full occlusion followed by re-appearance)."""
    T = len(visible)
    best = 0
    for s, e in _runs((visible == 0) & (amodal > 0)):
        if s > 0 and e < T and visible[s - 1] > 0 and visible[e] > 0:
            best = max(best, e - s)
    return best


def out_of_view_runs(amodal: np.ndarray, visible: np.ndarray) -> List[int]:
    """Lengths of the runs of frames with no pixel inside the frame that have visible frames on
    both sides (the object left the frame and came back)."""
    T = len(amodal)
    return [e - s for s, e in _runs(amodal == 0) if s > 0 and e < T and visible[:s].any() and visible[e:].any()]


# ------------------------------------------------------------------------------------------------
# one video: roles, objects, paths checked on the masks, rendering, shuffled ids
# ------------------------------------------------------------------------------------------------
def _sample_roles(cfg: HardSyntheticConfig, rng) -> List[str]:
    """The K objects' roles: two twins, occluded, exit-return, maybe a look-alike, extras."""
    K = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
    n_look = int(K > 4 and rng.random() < cfg.lookalike_prob)
    return ["twin", "twin", "occluded", "exit_return"] + ["lookalike"] * n_look + ["extra"] * (K - 4 - n_look)


def _sample_objects(sc: _Scene, roles: List[str]) -> Tuple[List[_Primary], Optional[int], List[bool]]:
    """The objects of ``roles`` (category, shape, radius, scale and rotation; paths come later),
    the index of the object the look-alike copies (None without one), and which enter late."""
    cfg, rng, K = sc.cfg, sc.rng, len(roles)

    def radius():
        return rng.uniform(*cfg.object_radius) * sc.unit

    # twins: one outline, one radius, one scale and rotation curve; different textures
    pair = TWIN_CATEGORY_PAIRS[int(rng.integers(len(TWIN_CATEGORY_PAIRS)))]
    ca, cb = pair if rng.random() < 0.5 else pair[::-1]
    r_tw = radius()
    scale, angle = _scale_angle(sc, cfg.scale_change)
    ta = _new_primary(ca, r_tw, scale, angle, rng)
    tb = _new_primary(cb, r_tw, scale.copy(), angle.copy(), rng, params=ta.params)
    prims = [ta, tb]
    scale, angle = _scale_angle(sc, (0.8, 1.25))
    occ = _new_primary(int(rng.integers(len(CATEGORY_SPECS))), radius(), scale, angle, rng)
    scale, angle = _scale_angle(sc, cfg.scale_change)
    ext = _new_primary(int(rng.integers(len(CATEGORY_SPECS))), radius(), scale, angle, rng)
    prims += [occ, ext]
    look_of = None
    if "lookalike" in roles:
        look_of = int(rng.integers(4))
        src = prims[look_of]
        scale, angle = _scale_angle(sc, cfg.scale_change)
        prims.append(_new_primary(src.category, src.radius * rng.uniform(0.9, 1.1), scale, angle, rng))
    for _ in range(K - len(prims)):
        scale, angle = _scale_angle(sc, cfg.scale_change)
        prims.append(_new_primary(int(rng.integers(len(CATEGORY_SPECS))), radius(), scale, angle, rng))
    late = [False] * 4 + [rng.random() < (0.5 if r == "lookalike" else cfg.late_entry_prob) for r in roles[4:]]
    return prims, look_of, late


def _sample_path(sc: _Scene, prims, roles, late, k: int, wall, vertical: bool, thickness: int) -> None:
    """(Re)sample object k's path for its role (twin 0 samples both twins)."""
    if roles[k] == "twin":
        _twin_paths(sc, prims[0], prims[1])
    elif roles[k] == "occluded":
        _occluded_path(sc, prims[k], wall, vertical, thickness)
    elif roles[k] == "exit_return":
        _exit_return_path(sc, prims[k], thickness)
    else:
        _free_path(sc, prims[k], thickness, late[k])


def _roles_realised(cfg: HardSyntheticConfig, amodal: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """(K,) bool: object k is visible enough and its role happens on the masks (module doc)."""
    need, min_area = cfg.visible_frames_needed, max(1, int(cfg.min_visible_area * cfg.height * cfg.width))
    ok = (visible >= min_area).sum(1) >= need
    gap = longest_hidden_run(amodal[2], visible[2])
    ok[2] &= cfg.occlusion_frames[0] <= gap <= cfg.occlusion_frames[1]
    ok[3] &= len(out_of_view_runs(amodal[3], visible[3])) > 0
    ok[0] = ok[1] = ok[0] & ok[1]
    return ok


def _realise_roles(sc: _Scene, prims, roles, late, wall, vertical: bool, occluders, thickness: int, seed: int):
    """Sample every path and the z-order, then resample the objects whose role the rendered masks
    do not show until all do. Returns (z_order, placements, amodal areas, visible areas)."""
    cfg, rng, K = sc.cfg, sc.rng, len(prims)

    def sample(k: int) -> None:
        _sample_path(sc, prims, roles, late, k, wall, vertical, thickness)

    def place(k: int):
        return [_placement(prims[k], t, cfg, thickness) for t in range(sc.T)]

    for k in range(K):
        if k != 1:  # the twins are sampled together
            sample(k)
    z_order = [int(k) for k in rng.permutation(K)]
    placements = [place(k) for k in range(K)]
    for _attempt in range(60):
        amodal, visible = _visible_areas(placements, z_order, cfg, occluders)
        bad = np.flatnonzero(~_roles_realised(cfg, amodal, visible))
        if bad.size == 0:
            return z_order, placements, amodal, visible
        for k in bad:
            if k == 1:
                continue
            sample(k)
            placements[k] = place(k)
            if k == 0:
                placements[1] = place(1)
    raise RuntimeError(f"seed {seed}: could not realise the hard preset's roles in {cfg}")


def _hard_stats(perm, prims, roles, z_order, amodal, visible, look_of, wall, cam, bg_name) -> dict:
    """``SyntheticVideo.stats`` of a hard video whose object k got id ``perm[k] + 1``."""
    K = len(prims)
    inv = np.argsort(perm)
    new_id = lambda k: perm[k] + 1  # noqa: E731
    return {
        "amodal_area": amodal[inv],
        "visible_area": visible[inv],
        "z_order": [new_id(k) for k in z_order],
        "paths": {new_id(k): prims[k].path for k in range(K)},
        "scale": np.stack([prims[k].scale for k in inv]),
        "camera": cam,
        "background": bg_name,
        "roles": {new_id(k): roles[k] for k in range(K)},
        "twins": (new_id(0), new_id(1)),
        "lookalike": (new_id(4), new_id(look_of)) if look_of is not None else None,
        "occlusion_gap": {new_id(2): longest_hidden_run(amodal[2], visible[2])},
        "out_of_view": {new_id(3): max(out_of_view_runs(amodal[3], visible[3]))},
        "wall": tuple(float(v) for v in wall),
        "waypoints": {
            new_id(k): [(float(t), tuple(float(v) for v in q)) for t, q in prims[k].waypoints] for k in range(K)
        },
        "centers": np.stack([prims[k].center for k in inv]),
    }


def generate_hard_video(
    seed: int, cfg: Optional[HardSyntheticConfig] = None, name: Optional[str] = None
) -> SyntheticVideo:
    """Render one hard-preset video; identical output for identical ``(seed, cfg)``.

    ``stats`` adds to the default preset's: ``roles`` {id: "twin" | "occluded" | "exit_return" |
    "lookalike" | "extra"}, ``twins`` (id, id), ``lookalike`` (id, id it copies) or None,
    ``occlusion_gap`` {occluded id: measured full-occlusion frames}, ``out_of_view`` {exit-return id:
    measured frames out of view}, ``wall`` (x0, y0, x1, y1) in canvas pixels, ``waypoints``
    {id: [(t, (x, y) canvas)]}.
    """
    cfg = cfg or HardSyntheticConfig()
    rng, H, W, T, unit, thickness, canvas, dmask, bg_name, cam = _video_setup(cfg, seed)
    sc = _Scene(cfg, cam, rng)
    roles = _sample_roles(cfg, rng)
    prims, look_of, late = _sample_objects(sc, roles)
    wall, vertical = _make_wall(sc, prims[2], thickness)
    wall_colour, wall_mask = _wall_layer(sc, wall, canvas.shape, bg_name, rng)
    occluders = [wall_mask[int(cam[t, 1]) : int(cam[t, 1]) + H, int(cam[t, 0]) : int(cam[t, 0]) + W] for t in range(T)]
    z_order, placements, amodal, visible = _realise_roles(
        sc, prims, roles, late, wall, vertical, occluders, thickness, seed
    )
    for p in prims:
        _make_sprite(p, rng)
    frames, id_maps, dmasks = render_frames(
        canvas, dmask, cam, prims, placements, z_order, cfg, rng, thickness, overlay=(wall_colour, wall_mask)
    )

    # ids in a random order, so no role has a fixed id
    K = len(prims)
    perm = [int(k) for k in rng.permutation(K)]  # perm[k] = new 0-based index of sampled object k
    lut = np.zeros(256, np.uint8)
    lut[1 : K + 1] = np.array(perm) + 1
    return SyntheticVideo(
        name=name or f"hard_{seed}",
        seed=int(seed),
        frames=frames,
        id_maps=[lut[m] for m in id_maps],
        categories={perm[k] + 1: prims[k].category for k in range(K)},
        distractor_masks=dmasks,
        stats=_hard_stats(perm, prims, roles, z_order, amodal, visible, look_of, wall, cam, bg_name),
    )
