"""Running a frame-level proposer over a video, each frame guided by the previous one.

Frame t gets ``prev_image`` = frame t-1 and ``prev_mask`` = a stand-in for S_{t-1} (the proposer's
own foreground on t-1, the ground truth, or nothing; :func:`propose_video`): what D-Net's video
inference and the per-frame AP of ``uvmos.evaluation.frame_ap`` (Table 3, no tracker) run on.
:func:`frame_input` is the frame preparation shared with ``VideoSegmenter.run_video``: both loops
give the proposer the same :class:`uvmos.structures.FrameInput`, at the proposer's own
``test_size`` and ``input_format``.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from detectron2.structures import Instances

from uvmos.data.folder import iter_frames
from uvmos.data.video_dict import DatasetFormatError, rle_to_mask
from uvmos.structures import FrameInput

__all__ = ["frame_tensor", "frame_input", "proposer_size", "propose_video", "propose_videos"]


def frame_tensor(frame: np.ndarray, size: Tuple[int, int], input_format: str, device: torch.device) -> torch.Tensor:
    """(3, H', W') uint8 tensor of a BGR (H, W, 3) frame resized to ``size`` = (H', W') (bilinear),
    in ``input_format`` ("BGR" or "RGB") channel order, on ``device``."""
    hs, ws = size
    img = frame if (hs, ws) == frame.shape[:2] else cv2.resize(frame, (ws, hs), interpolation=cv2.INTER_LINEAR)
    if input_format == "RGB":
        img = img[:, :, ::-1]
    elif input_format != "BGR":
        raise ValueError(f"input_format must be BGR or RGB, got {input_format!r}")
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).to(device)


def proposer_size(proposer: torch.nn.Module, frame_hw: Tuple[int, int]) -> Tuple[int, int]:
    """The (H', W') a proposer takes a frame of size ``frame_hw`` at: its ``test_size``, else the frame's."""
    size = getattr(proposer, "test_size", None)
    return tuple(frame_hw) if size is None else (int(size[0]), int(size[1]))


def frame_input(
    proposer: torch.nn.Module,
    frame: np.ndarray,
    t: int,
    video_id: Any,
    device: torch.device,
    prev_image: Optional[torch.Tensor] = None,
    prev_mask: Optional[torch.Tensor] = None,
) -> FrameInput:
    """Frame t (BGR (H, W, 3) uint8) as the proposer's input: resized to its ``test_size`` in its
    ``input_format`` (docs/dev_conventions.md), with frame t-1 and S_{t-1} when given."""
    H, W = frame.shape[:2]
    image = frame_tensor(frame, proposer_size(proposer, (H, W)), getattr(proposer, "input_format", "BGR"), device)
    inp: FrameInput = {"image": image, "height": H, "width": W, "video_id": video_id, "frame_idx": t}
    if prev_image is not None:
        inp["prev_image"] = prev_image
        inp["prev_mask"] = prev_mask
    return inp


def _guidance_mask(out: Dict[str, Any], size: Tuple[int, int], threshold: float) -> torch.Tensor:
    """S_{t-1} stand-in from a proposer output -> float (1, H', W') in {0, 1} at the test size."""
    if out.get("foreground") is not None:
        fg = out["foreground"].float() > threshold
    else:
        inst = out["instances"]
        keep = inst.scores >= threshold
        h, w = inst.image_size
        fg = inst.pred_masks[keep].any(dim=0) if keep.any() else torch.zeros((h, w), dtype=torch.bool)
    return _at_size(fg, size)


def _at_size(fg: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """(H, W) mask -> float (1, H', W') in {0, 1} at ``size`` (nearest)."""
    fg = fg.float()[None, None]
    if tuple(fg.shape[-2:]) != tuple(size):
        fg = F.interpolate(fg, size=size, mode="nearest")
    return fg[0]


def _gt_guidance_mask(video: Dict[str, Any], t: int, size: Tuple[int, int]) -> torch.Tensor:
    """Ground-truth S_t (union of frame t's instances; void and unannotated frames give zeros)
    -> float (1, H', W') in {0, 1} at the test size."""
    fg = np.zeros((video["height"], video["width"]), dtype=bool)
    for inst in video["annotations"][t] or []:
        if not inst.get("iscrowd", 0):
            fg |= rle_to_mask(inst["segmentation"])
    return _at_size(torch.from_numpy(fg), size)


@torch.no_grad()
def propose_video(
    proposer: torch.nn.Module,
    video: Dict[str, Any],
    guidance_threshold: float = 0.5,
    keep_features: bool = False,
    guidance: str = "own",
) -> Iterator[Tuple[int, Dict[str, Any]]]:
    """Stream ``(t, output)`` of ``proposer`` over one video, frame t guided by frame t-1 (module doc).

    Frames reach the proposer at its own ``test_size`` and ``input_format`` (:func:`frame_input`).

    Args:
        guidance_threshold: foreground probability (or proposal score) that enters S_{t-1}.
        keep_features: keep the proposer's ``features`` in the outputs (dropped by default).
        guidance: S_{t-1} from the proposer's ``"own"`` output, the ground truth (``"gt"``; needs
            ``annotations``) or ``"empty"`` (module doc).
    Outputs keep the proposer's keys (``instances`` at the frame's size, ...), moved to the CPU.
    """
    if guidance not in ("own", "gt", "empty"):
        raise ValueError(f"guidance must be 'own', 'gt' or 'empty', got {guidance!r}")
    if guidance == "gt" and video.get("annotations") is None:
        raise DatasetFormatError(video.get("video_id"), "guidance='gt' needs a video with annotations")
    device = next((p.device for p in proposer.parameters()), torch.device("cpu"))
    prev_image = prev_mask = None
    for t, frame in iter_frames(video, format="BGR"):
        inp = frame_input(proposer, frame, t, video.get("video_id"), device, prev_image, prev_mask)
        hs, ws = inp["image"].shape[-2:]
        out = proposer([inp])[0]
        if guidance == "own":
            mask = _guidance_mask(out, (hs, ws), guidance_threshold)
        elif guidance == "gt":
            mask = _gt_guidance_mask(video, t, (hs, ws))
        else:
            mask = torch.zeros((1, hs, ws))
        prev_image, prev_mask = inp["image"], mask.to(device)
        if not keep_features:
            out = {k: v for k, v in out.items() if k != "features"}
        out = {k: (v.to("cpu") if isinstance(v, (torch.Tensor, Instances)) else v) for k, v in out.items()}
        yield t, out


def propose_videos(proposer: torch.nn.Module, videos: Sequence[Dict[str, Any]], **kwargs) -> List[Dict[str, Any]]:
    """:func:`propose_video` over several videos -> ``[{"video_id", "frames": [{"frame_idx", "instances",
    "foreground"}]}]`` (the video-level input of ``uvmos.evaluation.frame_ap.FrameAPEvaluator``)."""
    results = []
    for v in videos:
        if "video_id" not in v or not (v.get("file_names") or v.get("video_file")):
            raise DatasetFormatError(v.get("video_id"), "expected a video dict with file_names or video_file")
        frames = []
        for t, out in propose_video(proposer, v, **kwargs):
            fr = {"frame_idx": t, "instances": out["instances"]}
            if "foreground" in out:
                fr["foreground"] = out["foreground"]
            frames.append(fr)
        results.append({"video_id": v["video_id"], "frames": frames})
    return results
