"""A synthetic video rendered frame by frame with nothing stored: for benchmarks on long videos.

:func:`uvmos.data.synthetic.generate_video` renders a whole clip into memory. A
:class:`SyntheticStream` draws the same scene (:mod:`uvmos.data.synthetic_render`, default preset:
background canvas with distractors, camera pan, textured primaries with outline and drop shadow,
flicker, sensor noise) but renders frame ``t`` only when asked, and keeps only the scene: the
clip's ``cfg.length`` frames are played back and forth (ping-pong), so the stream never ends and its
memory does not grow with ``t`` (tools/bench_memory.py measures the model's peak RSS on it).

Frame ``t < cfg.length`` shows frame ``t`` of ``generate_video(seed, cfg)`` (same id map; the pixels
differ by the sensor noise only, drawn here from ``(seed, t)`` so any frame can be rendered alone).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Dict, List, Optional, Tuple

import numpy as np

from .synthetic_canvas import _video_setup
from .synthetic_render import (
    SyntheticConfig,
    _make_sprite,
    _place_visibly,
    _placement,
    _sample_primaries,
    draw_window,
)
from .video_dict import instances_from_id_map

__all__ = ["SyntheticStream"]


class SyntheticStream:
    """``stream(t) -> (frame (H, W, 3) uint8 BGR, id_map (H, W) uint8)`` for any ``t >= 0``.

    The last frame rendered is kept (a caller asking twice for frame ``t``, e.g. the frame loop and
    an oracle, renders it once); the arrays returned are shared, do not modify them in place.
    """

    def __init__(self, seed: int, cfg: Optional[SyntheticConfig] = None):
        cfg = cfg or SyntheticConfig()
        if getattr(cfg, "preset", "default") != "default":
            raise ValueError(f"SyntheticStream renders the default preset only, got preset {cfg.preset!r}")
        self.seed, self.cfg = int(seed), cfg
        # the scene, drawn in generate_video's order (so the same seed gives the same scene)
        rng, H, W, T, unit, self.thickness, self.canvas, _, _, self.cam = _video_setup(cfg, self.seed)
        self.prims = _sample_primaries(cfg, self.cam, rng)
        self.z_order = [int(k) for k in rng.permutation(len(self.prims))]  # back to front
        _place_visibly(self.prims, self.z_order, cfg, self.cam, rng, self.thickness, self.seed)  # resamples
        for p in self.prims:
            _make_sprite(p, rng)
        self.shadow_off = max(1, int(round(unit / 100)))
        amp, freq, phase = rng.uniform(0, 0.04), rng.uniform(0.5, 1.5), rng.uniform()
        self.flicker = 1 + amp * np.sin(2 * np.pi * (freq * np.arange(T) / T + phase))
        self.categories: Dict[int, int] = {k + 1: p.category for k, p in enumerate(self.prims)}
        self._last: Optional[Tuple[int, np.ndarray, np.ndarray]] = None

    @property
    def num_objects(self) -> int:
        return len(self.prims)

    def clip_index(self, t: int) -> int:
        """The clip frame shown at stream frame ``t`` (ping-pong over ``cfg.length`` frames)."""
        T = self.cfg.length
        if T == 1:
            return 0
        i = int(t) % (2 * (T - 1))
        return i if i < T else 2 * (T - 1) - i

    def __call__(self, t: int) -> Tuple[np.ndarray, np.ndarray]:
        t = int(t)
        if t < 0:
            raise IndexError(f"SyntheticStream: frame {t} < 0")
        if self._last is None or self._last[0] != t:
            self._last = (t, *self._render(t))
        return self._last[1], self._last[2]

    def _render(self, t: int) -> Tuple[np.ndarray, np.ndarray]:
        """One frame as the loop body of :func:`uvmos.data.synthetic_render.render_frames`."""
        cfg, i = self.cfg, self.clip_index(t)
        H, W = cfg.height, cfg.width
        cx, cy = int(self.cam[i, 0]), int(self.cam[i, 1])
        frame, id_map = draw_window(
            self.canvas,
            cx,
            cy,
            H,
            W,
            self.z_order,
            self.prims,
            lambda k: _placement(self.prims[k], i, cfg, self.thickness),
            i,
            self.shadow_off,
            self.thickness,
        )
        frame *= self.flicker[i]
        if cfg.noise_std > 0:
            noise = np.random.default_rng([self.seed, t]).standard_normal(frame.shape, dtype=np.float32)
            frame += noise * cfg.noise_std
        return np.clip(frame + 0.5, 0, 255).astype(np.uint8), id_map

    def video_dict(self, video_id: str = "stream") -> dict:
        """A video dict whose ``annotations[t]`` are computed from frame ``t`` when read (nothing
        stored; its length is unbounded): the ground truth of ``OracleProposer(videos=[...])``."""
        cfg = self.cfg
        return {"video_id": video_id, "height": cfg.height, "width": cfg.width, "annotations": _Annotations(self)}


class _Annotations(Sequence):
    """``annotations[t]``: the instance dicts of stream frame ``t`` (``instances_from_id_map``)."""

    def __init__(self, stream: SyntheticStream):
        self.stream = stream

    def __len__(self) -> int:
        return sys.maxsize  # the stream has no end

    def __getitem__(self, t) -> List[dict]:
        if not isinstance(t, (int, np.integer)):
            raise TypeError("stream annotations are indexed by frame number only")
        return instances_from_id_map(self.stream(int(t))[1], self.stream.categories, void_value=None)
