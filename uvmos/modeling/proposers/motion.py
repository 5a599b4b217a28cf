"""A weight-free proposer for real video: motion (DIS flow, camera compensation, FST inside-outside
maps) refined by appearance (GrabCut colour models), propagated along the flow.

The route is FST's (Papazoglou & Ferrari, "Fast object segmentation in unconstrained video", ICCV
2013): motion boundaries -> inside-outside maps -> an appearance model of what is inside ->
a graph-cut segmentation, smoothed over time. Where our implementation differs, and why:

* flow is OpenCV's DIS (fast on CPU) instead of Brox-Malik, computed from frame t to t-1, so every
  cue lives on frame t's pixels;
* camera motion is removed first (RANSAC homography on flow correspondences), so a panning or
  hand-held camera does not turn the whole scene into "motion";
* evidence = the noisy-or of a residual-speed score and the inside-outside map (FST uses the
  latter alone; DIS flow is smooth, so its motion boundaries are often open and the map is patchy);
* temporal smoothing is online: the previous frame's foreground probability is warped along the
  flow and blended in (FST smooths the whole video offline); a video is processed as a stream;
* the appearance step is cv2.grabCut (GMM colour models + graph cut), seeded by the evidence,
  instead of FST's own GMMs and energy.

The first frame of a video has no previous frame and gets no proposals. The proposer keeps state
across frames of one video and resets when ``video_id`` changes or ``frame_idx`` is 0, so one
instance serves one video stream at a time. All settings were chosen on the 16 shared DAVIS-2016
train sequences (docs/real_video.md).
"""

from __future__ import annotations

import contextlib
from collections import deque
from typing import List, Optional, Tuple

import cv2
import numpy as np
import torch
from detectron2.structures import Instances
from torch import nn

from uvmos.registry import PROPOSER_REGISTRY

from .colour_model import ColourModel
from .flow_cues import (
    camera_residual,
    dis_flow,
    fb_occlusion,
    inside_outside,
    make_dis,
    motion_boundaries,
    warp_backward,
)

__all__ = ["MotionProposer"]


@PROPOSER_REGISTRY.register()
class MotionProposer(nn.Module):
    """Frame -> scored masks of the independently moving objects (no weights).

    Output per input: ``instances`` at (height, width) with pred_masks, scores (mean foreground
    probability inside the mask) and pred_classes (0: class-agnostic); ``fg_prob`` (h, w) float32,
    the working-resolution foreground probability (for analysis).

    Args:
        work_height: frames are processed at this height (aspect kept); the masks are upsampled.
        flow_preset: DIS preset, "ultrafast" | "fast" | "medium".
        flow_gap: flow from frame t to frame t - flow_gap (fewer at a video's start): slow movers
            move flow_gap times more, flow noise does not grow; one flow per frame either way.
        motion_sigma_px: residual speed (working-resolution px / frame) that counts as clear motion;
            the scale also grows with the frame's median residual (``noise_k`` times it), so flow
            noise on a shaking camera does not fire everywhere.
        rel_sigma: when > 0, the scale drops to ``rel_sigma`` x the frame's 99th-percentile residual
            speed if that is lower (slow movers), but not below ``min_sigma_px`` or the noise floor.
        boundary_thresh: FST boundary strength above which a pixel is a motion boundary.
        io_weight: the inside-outside map's weight; evidence = noisy-or of the residual-speed score
            and ``io_weight`` x the inside-outside map.
        temporal_weight: weight of the previous frame's warped foreground probability.
        occlusion_check: "none" (default) | "prior" | "all": also compute the flow t-gap -> t and,
            where the two flows disagree (``fb_occlusion``: mostly the background an object has just
            uncovered, which otherwise trails behind it as a halo), drop the warped temporal prior
            ("prior") or the prior and the motion evidence ("all"). Off by default: on the shared
            DAVIS-2016 train sequences it fixes some halos but erases fast non-rigid movers, whose
            own flow fails the check (docs/real_video.md, "Tried and not adopted").
        occlusion_alpha: the check's relative tolerance (Sundaram et al.'s alpha).
        colour_weight: > 0 adds FST's appearance cue, online colour models of the foreground and
            background (``ColourModel``, updated with each frame's segmentation) read as
            p(foreground | colour) within ``colour_near_px`` of the evidence, combined by
            ``colour_mode`` ("max": max(prob, weight * p); "blend": a weighted mean). Off by
            default for the same reason (docs/real_video.md, "Tried and not adopted").
        colour_rate: the colour models' update rate (``ColourModel.rate``).
        grabcut_iters: GrabCut iterations (0 skips the appearance step).
        crop_margin: GrabCut runs on the box around the probable foreground plus this margin (px).
        region_thresh: motion regions (cut one by one) are the components of prob >= this.
        norm_floor: within a region, the probability is divided by its 99th percentile (at least
            ``norm_floor``; 1 = absolute thresholds) before the fg/seed thresholds; a region whose
            peak is below ``norm_floor * fg_thresh`` is dropped.
        fg_thresh / seed_thresh: probability above which a pixel is probable / sure foreground.
        min_area_frac: proposals smaller than this fraction of the frame are dropped.
        group_px: components closer than this (working px) form one proposal (an object that the
            cues cut in pieces stays one).
        max_proposals: at most this many proposals per frame, best scores first.
        timer: optional ``PartTimer``; parts "flow", "motion", "appearance" are timed inside it.
        num_threads: ``cv2.setNumThreads`` at construction (None leaves OpenCV's setting).
    """

    def __init__(
        self,
        work_height: int = 320,
        flow_preset: str = "medium",
        flow_gap: int = 1,
        motion_sigma_px: float = 1.0,
        noise_k: float = 3.0,
        rel_sigma: float = 0.5,
        min_sigma_px: float = 0.25,
        boundary_thresh: float = 0.5,
        io_weight: float = 0.5,
        temporal_weight: float = 0.7,
        occlusion_check: str = "none",
        occlusion_alpha: float = 0.01,
        colour_weight: float = 0.0,
        colour_rate: float = 0.3,
        colour_near_px: int = 15,
        colour_mode: str = "max",
        grabcut_iters: int = 2,
        crop_margin: int = 24,
        norm_floor: float = 0.5,
        region_thresh: float = 0.3,
        fg_thresh: float = 0.8,
        seed_thresh: float = 0.95,
        min_area_frac: float = 0.002,
        group_px: int = 12,
        max_proposals: int = 3,
        timer=None,
        num_threads: Optional[int] = None,
    ):
        super().__init__()
        if work_height < 32:
            raise ValueError(f"MotionProposer: work_height must be >= 32, got {work_height}")
        if occlusion_check not in ("none", "prior", "all"):
            raise ValueError(
                f"MotionProposer: occlusion_check must be 'none', 'prior' or 'all', got {occlusion_check!r}"
            )
        if colour_mode not in ("max", "blend"):
            raise ValueError(f"MotionProposer: colour_mode must be 'max' or 'blend', got {colour_mode!r}")
        if num_threads is not None:
            cv2.setNumThreads(int(num_threads))
        self.work_height = int(work_height)
        self.flow_preset = flow_preset
        if flow_gap < 1:
            raise ValueError(f"MotionProposer: flow_gap must be >= 1, got {flow_gap}")
        self.flow_gap = int(flow_gap)
        self._dis = make_dis(flow_preset)
        self.motion_sigma_px = float(motion_sigma_px)
        self.noise_k = float(noise_k)
        self.rel_sigma = float(rel_sigma)
        self.min_sigma_px = float(min_sigma_px)
        self.boundary_thresh = float(boundary_thresh)
        self.io_weight = float(io_weight)
        self.temporal_weight = float(temporal_weight)
        self.occlusion_check = occlusion_check
        self.occlusion_alpha = float(occlusion_alpha)
        self.colour_weight = float(colour_weight)
        self.colour_near_px = int(colour_near_px)
        self.colour_mode = colour_mode
        self._colour = ColourModel(rate=colour_rate)
        self.grabcut_iters = int(grabcut_iters)
        self.crop_margin = int(crop_margin)
        self.norm_floor = float(norm_floor)
        self.region_thresh = float(region_thresh)
        self.fg_thresh = float(fg_thresh)
        self.seed_thresh = float(seed_thresh)
        self.min_area_frac = float(min_area_frac)
        self.group_px = int(group_px)
        self.max_proposals = int(max_proposals)
        self.timer = timer
        self._reset(None)

    # -- state -----------------------------------------------------------------------------
    def _reset(self, video_id) -> None:
        self._video_id = video_id
        self._grays: "deque[np.ndarray]" = deque(maxlen=self.flow_gap)
        self._prev_prob: Optional[np.ndarray] = None
        self._colour.reset()

    def _part(self, name: str):
        return self.timer.part(name) if self.timer is not None else contextlib.nullcontext()

    def forward(self, batched_inputs: List[dict]) -> List[dict]:
        return [self._propose(x) for x in batched_inputs]

    # -- one frame -------------------------------------------------------------------------
    def _propose(self, x: dict) -> dict:
        img = x["image"]
        img = img.cpu().numpy() if torch.is_tensor(img) else np.asarray(img)
        bgr = np.ascontiguousarray(img.transpose(1, 2, 0)).astype(np.uint8, copy=False)
        H, W = int(x.get("height", bgr.shape[0])), int(x.get("width", bgr.shape[1]))
        vid, t = x.get("video_id"), int(x.get("frame_idx", -1))
        if t == 0 or vid != self._video_id:
            self._reset(vid)
        h = self.work_height
        w = max(8, int(round(bgr.shape[1] * h / bgr.shape[0])))
        small = cv2.resize(bgr, (w, h), interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        if self._grays and self._grays[-1].shape != gray.shape:
            self._reset(vid)
        gap = len(self._grays)  # frames back to the oldest kept frame (<= flow_gap)
        ref = self._grays[0] if gap else None
        self._grays.append(gray)
        if ref is None:
            self._prev_prob = None
            return {"instances": _empty(H, W), "fg_prob": np.zeros((h, w), np.float32)}

        with self._part("flow"):
            flow = dis_flow(self._dis, gray, ref)  # frame t -> t-gap, on frame t's pixels
            occ = None
            if self.occlusion_check != "none":
                occ = fb_occlusion(flow, dis_flow(self._dis, ref, gray), alpha=self.occlusion_alpha)
        with self._part("motion"):
            prob = self._motion_prob(flow, gap, occ)
            if self.colour_weight > 0:
                prob = self._with_colour(small, prob)
        with self._part("appearance"):
            fg = self._refine(small, prob)
            self._prev_prob = (0.5 * prob + 0.5 * fg).astype(np.float32)
            masks, scores = self._components(fg, prob)
            if self.colour_weight > 0:
                self._colour.update(small, fg)
        return {"instances": _to_instances(masks, scores, H, W), "fg_prob": prob}

    def _motion_prob(self, flow: np.ndarray, gap: int, occ: Optional[np.ndarray] = None) -> np.ndarray:
        res, _, _ = camera_residual(flow)
        mag = np.sqrt((res**2).sum(-1))
        # the speed that counts as "clearly moving": motion_sigma_px, lowered towards half the
        # frame's strongest motion (p99) when everything moves slowly, never below the flow noise
        sigma = self.motion_sigma_px
        if self.rel_sigma > 0:
            sigma = min(sigma, self.rel_sigma * float(np.percentile(mag, 99)))
        sigma = max(sigma, self.noise_k * float(np.median(mag)), self.min_sigma_px)
        speed = 1.0 - np.exp(-((mag / sigma) ** 2))
        boundary = cv2.dilate(
            (motion_boundaries(res) > self.boundary_thresh).astype(np.uint8), np.ones((3, 3), np.uint8)
        )
        io = cv2.blur(inside_outside(boundary > 0).astype(np.float32), (7, 7))
        ev = 1.0 - (1.0 - speed) * (1.0 - self.io_weight * io)  # noisy-or: either cue suffices
        trusted = 1.0
        if occ is not None:  # uncovered background: its flow (and hence its warped prior) is the object's
            trusted = 1.0 - cv2.dilate(occ.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(np.float32)
            if self.occlusion_check == "all":
                ev = ev * trusted
        if self._prev_prob is not None and self.temporal_weight > 0:
            prior = warp_backward(self._prev_prob, flow / gap) * trusted  # ~ the flow to frame t-1
            ev = (1.0 - self.temporal_weight) * ev + self.temporal_weight * prior
        return cv2.GaussianBlur(ev.astype(np.float32), (0, 0), 1.5)

    def _with_colour(self, small: np.ndarray, prob: np.ndarray) -> np.ndarray:
        """Blend in p(foreground | colour) of the online colour models (FST's appearance models),
        only near where the evidence already is: colour fills an object whose motion is weak this
        frame, and thins what moves but does not look like the object."""
        app = self._colour.foreground_prob(small)
        if app is None:
            return prob
        k = 2 * self.colour_near_px + 1
        near = cv2.dilate((prob >= self.region_thresh).astype(np.uint8), np.ones((k, k), np.uint8))
        app = cv2.GaussianBlur(app, (0, 0), 1.5) * near
        if self.colour_mode == "max":
            return np.maximum(prob, self.colour_weight * app)
        return ((1.0 - self.colour_weight) * prob + self.colour_weight * app).astype(np.float32)

    def _refine(self, small: np.ndarray, prob: np.ndarray) -> np.ndarray:
        """GrabCut (colour GMMs + graph cut) seeded by the motion probability -> foreground {0, 1}.

        Each region of motion evidence (a connected component of prob >= ``region_thresh``, dilated)
        is cut on its own box (its own local colour models; the cost is the boxes', not the
        frame's). Within a region the probability is divided by the region's 99th percentile (at
        least ``norm_floor``), so a slow mover next to a fast one is still seeded."""
        regions = cv2.dilate((prob >= self.region_thresh).astype(np.uint8), np.ones((15, 15), np.uint8))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(regions, connectivity=8)
        out = np.zeros(prob.shape, np.float32)
        cand = []
        for i in range(1, n):
            x, y, w, h, area = stats[i]
            if area < self.min_area_frac * prob.size:
                continue
            inside = labels[y : y + h, x : x + w] == i
            peak = float(np.percentile(prob[y : y + h, x : x + w][inside], 99))
            cand.append((peak, i))
        cand.sort(reverse=True)
        m = self.crop_margin
        for peak, i in cand[: self.max_proposals + 2]:
            if peak < self.norm_floor * self.fg_thresh:
                continue  # no clear motion in this region
            x, y, w, h, _ = stats[i]
            y0, y1 = max(0, y - m), min(prob.shape[0], y + h + m)
            x0, x1 = max(0, x - m), min(prob.shape[1], x + w + m)
            region = labels[y0:y1, x0:x1] == i
            pn = prob[y0:y1, x0:x1] / max(peak, self.norm_floor)
            gc = np.full(region.shape, cv2.GC_BGD, np.uint8)
            gc[region] = cv2.GC_PR_BGD
            gc[region & (pn >= self.fg_thresh)] = cv2.GC_PR_FGD
            gc[region & (pn >= self.seed_thresh)] = cv2.GC_FGD
            fg = (gc == cv2.GC_PR_FGD) | (gc == cv2.GC_FGD)
            if self.grabcut_iters > 0 and fg.sum() >= 16 and (~fg).sum() >= 16:
                bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
                try:
                    cv2.grabCut(
                        np.ascontiguousarray(small[y0:y1, x0:x1]),
                        gc,
                        None,
                        bgd,
                        fgd,
                        self.grabcut_iters,
                        cv2.GC_INIT_WITH_MASK,
                    )
                    fg = (gc == cv2.GC_PR_FGD) | (gc == cv2.GC_FGD)
                except cv2.error:  # a colour model with too few samples: keep the motion mask
                    pass
            out[y0:y1, x0:x1] = np.maximum(out[y0:y1, x0:x1], (fg & region).astype(np.float32))
        return out

    def _components(self, fg: np.ndarray, prob: np.ndarray) -> Tuple[List[np.ndarray], List[float]]:
        m = cv2.morphologyEx(fg.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        if not m.any():
            return [], []
        k = 2 * self.group_px + 1
        grouped = cv2.dilate(m, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))) if self.group_px > 0 else m
        n, labels = cv2.connectedComponents(grouped, connectivity=8)
        min_area = self.min_area_frac * m.size
        out: List[Tuple[float, np.ndarray]] = []
        for i in range(1, n):
            comp = (labels == i) & (m > 0)
            area = int(comp.sum())
            if area < min_area:
                continue
            out.append((float(prob[comp].mean()), comp))
        out.sort(key=lambda s: -s[0])
        out = out[: self.max_proposals]
        return [c for _, c in out], [s for s, _ in out]


def _empty(H: int, W: int) -> Instances:
    inst = Instances((H, W))
    inst.pred_masks = torch.zeros((0, H, W), dtype=torch.bool)
    inst.scores = torch.zeros(0)
    inst.pred_classes = torch.zeros(0, dtype=torch.long)
    return inst


def _to_instances(masks: List[np.ndarray], scores: List[float], H: int, W: int) -> Instances:
    if not masks:
        return _empty(H, W)
    full = []
    for m in masks:
        soft = cv2.resize(m.astype(np.float32), (W, H), interpolation=cv2.INTER_LINEAR)
        full.append(soft >= 0.5)
    inst = Instances((H, W))
    inst.pred_masks = torch.from_numpy(np.stack(full))
    inst.scores = torch.tensor(scores, dtype=torch.float32)
    inst.pred_classes = torch.zeros(len(masks), dtype=torch.long)
    return inst
