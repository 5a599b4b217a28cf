"""The video meta-architecture: a proposer and an associator run frame by frame (paper Fig. 1).

``VideoSegmenter`` owns the loop of docs/dev_conventions.md: frame t (resized to the test size)
with frame t-1 and the foreground of S_{t-1} -> proposer -> associator -> non-overlapping id map,
whose foreground becomes ``prev_mask`` for frame t+1. Streaming: it keeps frame t-1 and its mask
only, so memory does not grow with the video length.
"""

from __future__ import annotations

import contextlib
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

import cv2
import numpy as np
import torch
from torch import nn

from uvmos.data.folder import iter_frames
from uvmos.data.video_dict import instances_from_id_map
from uvmos.registry import META_ARCH_REGISTRY
from uvmos.structures import TrackOutput

from .proposers.video import frame_input

__all__ = ["VideoSegmenter"]


@META_ARCH_REGISTRY.register()
class VideoSegmenter(nn.Module):
    """Unsupervised video multi-object segmentation: ``proposer`` (PROPOSER_REGISTRY) +
    ``associator`` (ASSOCIATOR_REGISTRY), both from config.

    Args:
        proposer: ``proposer(List[FrameInput]) -> List[ProposerOutput]`` (image at the test size,
            outputs at the frame size). The proposer alone owns the input it wants: its
            ``test_size`` ((H', W') frames are resized to; absent or None: each frame's own size)
            and its ``input_format`` ("BGR" or "RGB"; absent: "BGR"). Frames arrive BGR.
        associator: an ``nn.Module`` with stateful ``reset(video_meta)`` / ``step(frame, proposals)``;
            its own modules (a trained re-ID head, a tracker backbone) are in the state dict, so
            one checkpoint restores the whole model.
        timer: optional ``uvmos.evaluation.timing.PartTimer``: each frame is a ``timer.frame()``
            with parts "proposal" and "association" (D-Net's foreground head runs inside its
            proposal, as paper Table 5 reports it).
    """

    def __init__(
        self,
        proposer: nn.Module,
        associator: nn.Module,
        timer: Any = None,
    ):
        super().__init__()
        fmt = getattr(proposer, "input_format", "BGR")
        if fmt not in ("BGR", "RGB"):
            raise ValueError(f"VideoSegmenter: the proposer's input_format must be BGR or RGB, got {fmt!r}")
        self.proposer = proposer
        if not isinstance(associator, nn.Module):
            raise TypeError(f"VideoSegmenter: the associator must be an nn.Module, got {type(associator).__name__}")
        self.associator = associator
        self.timer = timer

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    def _frame(self):
        return self.timer.frame() if self.timer is not None else contextlib.nullcontext()

    def _part(self, name: str):
        return self.timer.part(name) if self.timer is not None else contextlib.nullcontext()

    @torch.no_grad()
    def run_video(
        self, frames: Iterable[np.ndarray], video_meta: Optional[dict] = None
    ) -> Iterator[Tuple[np.ndarray, TrackOutput]]:
        """The video inference loop (every tool and ``VideoPredictor`` run it). ``frames``: (H, W, 3)
        uint8 BGR arrays; ``video_meta``: the video dict (or any dict; ``video_id`` is passed to the
        proposer and associator).

        Yields per frame ``(frame, TrackOutput)``: the frame as given, and its ``id_map`` (np.int32
        (H, W), 0 = background), ``track_scores`` {id: float} and ``track_classes`` {id: int}."""
        video_meta = dict(video_meta or {})
        video_id = video_meta.get("video_id", "video")
        self.associator.reset(video_meta)
        prev_image: Optional[torch.Tensor] = None
        prev_mask: Optional[torch.Tensor] = None
        device = self.device
        for t, frame in enumerate(frames):
            if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
                raise ValueError(
                    f"VideoSegmenter: frame {t} of {video_id!r} must be (H, W, 3) uint8 BGR, "
                    f"got {frame.shape} {frame.dtype}"
                )
            with self._frame():
                inp = frame_input(self.proposer, frame, t, video_id, device, prev_image, prev_mask)
                Hs, Ws = inp["image"].shape[-2:]
                H, W = frame.shape[:2]
                with self._part("proposal"):
                    proposals = self.proposer([inp])[0]
                with self._part("association"):
                    out = TrackOutput.from_associator(t, self.associator.step(inp, proposals))
                fg = (out.id_map > 0).astype(np.uint8)
                if (H, W) != (Hs, Ws):
                    fg = cv2.resize(fg, (Ws, Hs), interpolation=cv2.INTER_NEAREST)
                prev_image = inp["image"]
                prev_mask = torch.from_numpy(fg).float()[None].to(device)
            yield frame, out

    def forward(self, batched_inputs: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """Evaluation on whole videos (``DatasetEvaluator`` use): ``batched_inputs`` are video
        dicts; returns per video a prediction in the video-dict layout::

            {"video_id", "height", "width", "length",
             "annotations": [[{"instance_id", "segmentation" (RLE), "bbox", "bbox_mode",
                               "category_id", "score", "iscrowd"}, ...] per frame],
             "track_scores": {id: mean score over the frames it appears in}}
        """
        if self.training:
            raise RuntimeError("VideoSegmenter is an inference model; train its proposer (D-Net) on its own")
        outputs = []
        for video in batched_inputs:
            frames_out: List[List[dict]] = []
            score_sum: Dict[int, float] = {}
            score_n: Dict[int, int] = {}
            H = W = None
            for _, out in self.run_video((f for _, f in iter_frames(video)), video):
                H, W = out.id_map.shape
                insts = instances_from_id_map(out.id_map, out.track_classes, void_value=None)
                for inst in insts:
                    i = inst["instance_id"]
                    inst["score"] = float(out.track_scores.get(i, 1.0))
                    score_sum[i] = score_sum.get(i, 0.0) + inst["score"]
                    score_n[i] = score_n.get(i, 0) + 1
                frames_out.append(insts)
            outputs.append(
                {
                    "video_id": video.get("video_id"),
                    "height": H if H is not None else video.get("height"),
                    "width": W if W is not None else video.get("width"),
                    "length": len(frames_out),
                    "annotations": frames_out,
                    "track_scores": {i: score_sum[i] / score_n[i] for i in score_sum},
                }
            )
        return outputs
