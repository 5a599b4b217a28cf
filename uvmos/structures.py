"""The typed contracts the parts of uvmos exchange (docs/dev_conventions.md).

* :class:`FrameInput`: what a proposer and an associator get per frame (a detectron2-style dict,
  so detectron2 models take it unchanged; typed as a ``TypedDict``);
* :class:`ProposerOutput`: a proposer's result per frame;
* :class:`AssociatorOutput`: an associator's ``step`` result;
* :class:`TrackOutput`: what the video loop (``VideoSegmenter.run_video``) yields per frame,
  together with the frame itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

import numpy as np
import torch

try:  # Python >= 3.11
    from typing import NotRequired, TypedDict
except ImportError:  # pragma: no cover - Python 3.9 / 3.10
    from typing_extensions import NotRequired, TypedDict

__all__ = ["FrameInput", "ProposerOutput", "AssociatorOutput", "TrackOutput"]


class FrameInput(TypedDict):
    """One frame for a proposer (``proposer([frame])``) and an associator (``step(frame, ...)``)."""

    image: torch.Tensor  # uint8 (3, H', W'): the frame at the proposer's test size, its input_format
    height: int  # the original frame size: every output is at that size
    width: int
    video_id: str
    frame_idx: int
    prev_image: NotRequired[torch.Tensor]  # frame t-1 as ``image``; absent on the first frame
    prev_mask: NotRequired[torch.Tensor]  # float (1, H', W') in {0, 1}: foreground of S_{t-1}


class ProposerOutput(TypedDict):
    """A proposer's result for one frame."""

    instances: Any  # detectron2 Instances (height, width): pred_masks bool (N,H,W), scores, pred_classes
    features: NotRequired[Dict[str, torch.Tensor]]  # the frame's feature maps, for an associator
    foreground: NotRequired[torch.Tensor]  # float (H, W) foreground probability


class AssociatorOutput(TypedDict):
    """An associator's ``step`` result for one frame."""

    id_map: Any  # int32 (H, W) tensor or array, 0 = background, non-overlapping
    track_scores: Dict[int, float]
    track_classes: Dict[int, int]


@dataclass
class TrackOutput:
    """The video loop's result for one frame (yielded as ``(frame_bgr, TrackOutput)``)."""

    frame_idx: int
    id_map: np.ndarray  # int32 (H, W), 0 = background, pixel = track id
    track_scores: Dict[int, float] = field(default_factory=dict)
    track_classes: Dict[int, int] = field(default_factory=dict)
    extra: Optional[Dict[str, Any]] = None  # what a meta-architecture adds (e.g. timings)

    @classmethod
    def from_associator(cls, frame_idx: int, res: AssociatorOutput) -> "TrackOutput":
        id_map = res["id_map"]
        id_map = id_map.cpu().numpy() if torch.is_tensor(id_map) else np.asarray(id_map)
        return cls(
            frame_idx=frame_idx,
            id_map=id_map.astype(np.int32, copy=False),
            track_scores=dict(res.get("track_scores", {})),
            track_classes=dict(res.get("track_classes", {})),
        )
