"""``VideoPredictor``: the video analogue of detectron2's ``DefaultPredictor`` (docs/python_api.md).

Builds the model of a LazyConfig (a ``VideoSegmenter``), loads its weights, and streams a video
(file, frame folder, glob, list of frame files, (T, H, W, 3) array or video dict) through it frame
by frame: nothing but the tracker state and frame t-1 is kept, so memory does not grow with the
video's length. A model that would run with random weights is refused unless
``allow_random_weights=True`` (:func:`uvmos.engine.defaults.build_model`).
"""

from __future__ import annotations

import copy
import os
from typing import Any, Dict, Iterator, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from omegaconf import OmegaConf

from ..data.folder import _from_frames, iter_frames, load_video_source
from ..data.video_dict import DatasetFormatError
from ..structures import TrackOutput
from .defaults import build_model, pick_device

__all__ = ["VideoPredictor"]

Source = Union[str, os.PathLike, Sequence[str], np.ndarray, Dict[str, Any]]


def _video_from_array(frames: np.ndarray) -> Dict[str, Any]:
    if frames.ndim == 3 and frames.shape[-1] == 3:
        frames = frames[None]
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise TypeError(
            f"VideoPredictor: an array source must be uint8 BGR frames of shape (T, H, W, 3) or (H, W, 3), "
            f"got {frames.dtype} {frames.shape}"
        )
    T, H, W = frames.shape[:3]
    return {"video_id": "array", "height": H, "width": W, "length": T, "annotations": None, "_frames": frames}


def _check_dict(video: Dict[str, Any]) -> Dict[str, Any]:
    missing = [k for k in ("height", "width", "length") if k not in video]
    src = video.get("video_id", "video dict")
    if missing:
        raise DatasetFormatError(
            src,
            f"video dict lacks {missing} (needs height, width, length and file_names or "
            "video_file); or pass a path and let VideoPredictor build it",
        )
    if not video.get("file_names") and not video.get("video_file"):
        raise DatasetFormatError(src, "video dict has neither file_names nor video_file")
    if video.get("file_names") and len(video["file_names"]) != video["length"]:
        raise DatasetFormatError(src, f"{len(video['file_names'])} file_names but length={video['length']}")
    return video


def as_video(source: Source) -> Dict[str, Any]:
    """Any accepted source -> a video dict (see :class:`VideoPredictor`)."""
    if isinstance(source, (str, os.PathLike)):
        return load_video_source(os.fspath(source))
    if isinstance(source, np.ndarray):
        return _video_from_array(source)
    if isinstance(source, dict):
        return _check_dict(source)
    if isinstance(source, (list, tuple)):
        if not source or not all(isinstance(p, (str, os.PathLike)) for p in source):
            raise TypeError("VideoPredictor: a list source must be a non-empty list of frame file paths")
        files = [os.fspath(p) for p in source]
        return _from_frames(files, os.path.basename(os.path.dirname(os.path.abspath(files[0]))) or "frames")
    raise TypeError(
        f"VideoPredictor: cannot read a {type(source).__name__}; give a video file, frame folder or glob (str), "
        "a list of frame files, a (T, H, W, 3) uint8 BGR array, or a video dict"
    )


class VideoPredictor:
    """Segment and track the primary objects of one video at a time.

    Args:
        cfg: a LazyConfig with ``model`` (e.g. ``load_config("configs/uvmos/tiny_cpu.py")``).
        checkpoint: weights to load (default: ``cfg.train.init_checkpoint``).
        device: "cpu" / "cuda" (default: cuda when available).
        allow_random_weights: run even when (part of) the model has no trained weights.
    """

    def __init__(
        self, cfg, checkpoint: Optional[str] = None, device: Optional[str] = None, allow_random_weights: bool = False
    ):
        if checkpoint is not None:  # instead of cfg.train.init_checkpoint (the caller's cfg is left as it is)
            cfg = copy.deepcopy(cfg)
            OmegaConf.update(cfg, "train.init_checkpoint", checkpoint, merge=False)
        self.cfg = cfg
        self.device = pick_device(device)
        self.model = build_model(cfg, device=self.device, allow_random_weights=allow_random_weights)
        self.checkpoint = self.model.checkpoint

    def __call__(self, source: Source) -> Iterator[Tuple[np.ndarray, TrackOutput]]:
        """Yield ``(frame_bgr, TrackOutput)`` per frame (the model's ``run_video`` loop): the
        output's ``frame_idx``, ``id_map`` (int32 (H, W), 0 background), ``track_scores`` and
        ``track_classes``."""
        video = as_video(source)
        if "_frames" in video:
            frames = (np.ascontiguousarray(f) for f in video["_frames"])
        else:
            frames = (f for _, f in iter_frames(video))
        meta = {k: v for k, v in video.items() if k != "_frames"}
        with torch.no_grad():
            yield from self.model.run_video(frames, meta)
