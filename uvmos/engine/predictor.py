"""``VideoPredictor``: the video analogue of detectron2's ``DefaultPredictor``.

Builds the model of a LazyConfig (a ``VideoSegmenter``), loads its weights, and streams a video
(file, frame folder, glob or video dict) through it frame by frame: nothing but the tracker state
and frame t-1 is kept, so memory does not grow with the video's length.
"""
from __future__ import annotations

from typing import Any, Dict, Iterator, Optional, Tuple, Union

import numpy as np
import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import instantiate

from ..data.folder import iter_frames, load_video_source

__all__ = ["VideoPredictor"]


class VideoPredictor:
    def __init__(self, cfg, checkpoint: Optional[str] = None, device: Optional[str] = None):
        self.cfg = cfg
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self.model = instantiate(cfg.model)
        self.model.to(device)
        self.model.eval()
        ckpt = checkpoint if checkpoint is not None else cfg.train.get("init_checkpoint", "")
        if ckpt:
            DetectionCheckpointer(self.model).load(ckpt)

    def __call__(
        self, source: Union[str, Dict[str, Any]]
    ) -> Iterator[Tuple[np.ndarray, Dict[str, Any]]]:
        """Yield ``(frame_bgr, output)`` per frame; ``output`` has ``frame_idx``, ``id_map``
        (int32 (H, W), 0 background), ``track_scores`` and ``track_classes``."""
        video = load_video_source(source) if isinstance(source, str) else source
        last = {}

        def frames():
            for t, frame in iter_frames(video):
                last["frame"] = frame
                yield frame

        with torch.no_grad():
            for out in self.model.run_video(frames(), video):
                yield last["frame"], out
