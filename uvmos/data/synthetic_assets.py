"""Assets of the synthetic benchmark: real textures, shape families and the object categories.

Every image comes from scikit-image's bundled sample data (the files ship inside the
``skimage/data`` package folder, so nothing is downloaded). Which sample functions work offline was
checked against scikit-image 0.26: ``lily``, ``kidney``, ``skin``, ``eagle`` and ``vortex`` need the
network and are not used.

Two disjoint pools (docs/synthetic.md explains the choice):

* **object textures** (colourful photographs): astronaut, chelsea, coffee, rocket,
  immunohistochemistry, motorcycle — primaries are cut from these, saturated and outlined;
* **scene images** (grayscale photographs / texture scans, tinted weakly per video): brick, grass,
  gravel, moon, camera, coins, cell — backgrounds and the unannotated distractors come from
  these.

A category is a (shape family, texture source) pair. Two categories share a shape family and two
share a texture, so a classifier needs both the outline and the colours (the YouTube-VIS variant).
"""

from __future__ import annotations

import functools
from typing import Callable, Dict, List, NamedTuple, Tuple

import cv2
import numpy as np

__all__ = [
    "CategorySpec",
    "CATEGORY_SPECS",
    "CATEGORIES",
    "OBJECT_TEXTURES",
    "SCENE_IMAGES",
    "SHAPE_FAMILIES",
    "load_image",
    "sample_shape",
]


class CategorySpec(NamedTuple):
    name: str
    shape: str  # a key of SHAPE_FAMILIES
    texture: str  # a key of OBJECT_TEXTURES


# (name, shape family, texture). Order = 0-based category index; YouTube-VIS ids are index + 1.
CATEGORY_SPECS: Tuple[CategorySpec, ...] = (
    CategorySpec("astronaut_star", "star", "astronaut"),
    CategorySpec("cat_ellipse", "ellipse", "chelsea"),
    CategorySpec("coffee_polygon", "polygon", "coffee"),
    CategorySpec("rocket_cross", "cross", "rocket"),
    CategorySpec("cells_blob", "blob", "immunohistochemistry"),
    CategorySpec("motorcycle_crescent", "crescent", "motorcycle"),
    CategorySpec("cells_ellipse", "ellipse", "immunohistochemistry"),
    CategorySpec("cat_star", "star", "chelsea"),
)
CATEGORIES: List[str] = [c.name for c in CATEGORY_SPECS]


def _motorcycle() -> np.ndarray:
    from skimage import data

    return data.stereo_motorcycle()[0]


# name -> (loader, crop box as fractions (y0, y1, x0, x1) of the image to cut textures from)
OBJECT_TEXTURES: Dict[str, Tuple[str, Tuple[float, float, float, float]]] = {
    "astronaut": ("astronaut", (0.0, 1.0, 0.0, 1.0)),
    "chelsea": ("chelsea", (0.0, 1.0, 0.0, 1.0)),
    "coffee": ("coffee", (0.0, 1.0, 0.0, 1.0)),
    "rocket": ("rocket", (0.0, 1.0, 0.0, 1.0)),
    "immunohistochemistry": ("immunohistochemistry", (0.0, 1.0, 0.0, 1.0)),
    "motorcycle": ("motorcycle", (0.1, 0.95, 0.05, 0.95)),
}
SCENE_IMAGES: Tuple[str, ...] = ("brick", "grass", "gravel", "moon", "camera", "coins", "cell")


@functools.lru_cache(maxsize=None)
def load_image(name: str) -> np.ndarray:
    """A bundled scikit-image sample as read-only np.uint8 BGR (H, W, 3) (grayscale replicated)."""
    from skimage import data

    img = _motorcycle() if name == "motorcycle" else getattr(data, name)()
    img = np.asarray(img)
    if img.dtype != np.uint8:
        raise TypeError(f"skimage.data.{name} is {img.dtype}, expected uint8")
    img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR) if img.ndim == 2 else cv2.cvtColor(img[..., :3], cv2.COLOR_RGB2BGR)
    img.setflags(write=False)
    return img


# --------------------------------------------------------------------------------------------
# Shape families. Each sampler returns ``params`` (drawn once per object) and the family's outline
# function ``outline(params, phase) -> (N, 2) float32`` of (x, y) vertices in units of the object's
# radius (max |vertex| = 1). ``phase`` in [0, 1] is the video time; only "blob" deforms with it.
# --------------------------------------------------------------------------------------------
_Outline = Callable[[dict, float], np.ndarray]


def _normalise(pts: np.ndarray) -> np.ndarray:
    return (pts / np.linalg.norm(pts, axis=1).max()).astype(np.float32)


def _ellipse(p: dict, phase: float) -> np.ndarray:
    a = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    return _normalise(np.stack([np.cos(a), p["aspect"] * np.sin(a)], 1))


def _star(p: dict, phase: float) -> np.ndarray:
    n = p["points"]
    a = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False)
    r = np.where(np.arange(2 * n) % 2 == 0, 1.0, p["inner"])
    return _normalise(np.stack([r * np.cos(a), r * np.sin(a)], 1))


def _polygon(p: dict, phase: float) -> np.ndarray:
    a = np.linspace(0, 2 * np.pi, len(p["jitter"]), endpoint=False) + p["jitter"]
    return _normalise(np.stack([np.cos(a), np.sin(a)], 1))


def _cross(p: dict, phase: float) -> np.ndarray:
    w = p["arm"]
    q = [(w, w), (1, w), (1, -w), (w, -w), (w, -1), (-w, -1), (-w, -w), (-1, -w), (-1, w), (-w, w), (-w, 1), (w, 1)]
    return _normalise(np.asarray(q, np.float64))


def _blob(p: dict, phase: float) -> np.ndarray:
    """Star-shaped radial curve r(a) = 1 + sum_k c_k cos(k a + phi_k + 2 pi w_k phase): non-rigid."""
    a = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    r = np.ones_like(a)
    for k, c, phi, w in zip(p["freq"], p["amp"], p["phase"], p["drift"]):
        r += c * np.cos(k * a + phi + 2 * np.pi * w * phase)
    return _normalise(np.stack([r * np.cos(a), r * np.sin(a)], 1))


def _crescent(p: dict, phase: float) -> np.ndarray:
    """Unit disc minus a disc of radius rho centred at (d, 0): outer arc, then inner arc back."""
    d, rho = p["offset"], p["inner"]
    x = (1 + d * d - rho * rho) / (2 * d)  # abscissa of the two circle intersections
    phi0 = np.arccos(np.clip(x, -1, 1))
    psi0 = np.arccos(np.clip((x - d) / rho, -1, 1))
    outer = np.linspace(phi0, 2 * np.pi - phi0, 40)
    inner = np.linspace(2 * np.pi - psi0, psi0, 28)[1:-1]
    pts = np.concatenate(
        [np.stack([np.cos(outer), np.sin(outer)], 1), np.stack([d + rho * np.cos(inner), rho * np.sin(inner)], 1)]
    )
    return _normalise(pts)


def _params(shape: str, rng: np.random.Generator) -> dict:
    if shape == "ellipse":
        return {"aspect": rng.uniform(0.45, 0.8)}
    if shape == "star":
        return {"points": int(rng.integers(5, 8)), "inner": rng.uniform(0.42, 0.6)}
    if shape == "polygon":
        n = int(rng.integers(5, 8))
        return {"jitter": rng.uniform(-0.25, 0.25, n) * (np.pi / n)}
    if shape == "cross":
        return {"arm": rng.uniform(0.28, 0.42)}
    if shape == "blob":
        return {
            "freq": [2, 3, 4],
            "amp": rng.uniform(0.1, 0.22, 3),
            "phase": rng.uniform(0, 2 * np.pi, 3),
            "drift": rng.uniform(-0.6, 0.6, 3),
        }
    if shape == "crescent":
        return {"offset": rng.uniform(0.35, 0.55), "inner": rng.uniform(0.75, 0.9)}
    raise KeyError(f"unknown shape family {shape!r}; known: {sorted(SHAPE_FAMILIES)}")


SHAPE_FAMILIES: Dict[str, _Outline] = {
    "ellipse": _ellipse,
    "star": _star,
    "polygon": _polygon,
    "cross": _cross,
    "blob": _blob,
    "crescent": _crescent,
}


def sample_shape(shape: str, rng: np.random.Generator) -> Tuple[_Outline, dict]:
    """Draw the parameters of one object of a shape family -> (outline function, params)."""
    return SHAPE_FAMILIES[shape], _params(shape, rng)
