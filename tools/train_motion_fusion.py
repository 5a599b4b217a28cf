#!/usr/bin/env python
"""Train ``MotionFusionNet``, the learned combination of the real-video motion cues (issue #14).

    python tools/train_motion_fusion.py --dataset davis2016_shared_train \
        --out uvmos/model_zoo/motion_fusion.pth [--holdout boat,bear] [--iters 1500] [KEY=VALUE ...]

1. Cues: every annotated frame t >= 1 of every training video goes through the real-video
   proposer's own code (``MotionProposer.to_working`` + DIS flow t -> t-1 + ``cue_stack``; its
   settings come from ``--config-file``, default ``configs/uvmos/real_cpu.py``, and its trailing
   ``KEY=VALUE`` overrides). The stack and the
   ground-truth foreground (all objects, at the working resolution) are cached per video as
   ``.npz`` under ``--cache`` (a key of the cue settings is in the name; a rerun reuses them).
2. Training: random 160 px crops, horizontal flips (residual x negated), batch 8, Adam with a
   cosine decay, binary cross-entropy per pixel. Progress and ETA on a tqdm bar.
3. Check: on ``--holdout`` videos (left out of training), the pixel IoU of the net's map and of
   the fixed noisy-or rule, both thresholded at 0.5, is printed.
4. ``--out`` gets ``{"model": state_dict, "__meta__": {...}}``, written atomically.

Settings are chosen on the DAVIS-2016 train sequences only (docs/real_video.md); never pass the
val sequences here.
"""

import hashlib
import json
import logging
import math
import os
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import tqdm

import uvmos  # noqa: F401  (registers the datasets)
from uvmos.data.io import read_frame
from uvmos.data.video_dict import rle_to_mask
from uvmos.engine.defaults import default_argument_parser
from uvmos.modeling.proposers.motion_fusion import CUE_NAMES, MotionFusionNet
from uvmos.utils.config import load_config
from uvmos.utils.file_io import atomic_path, public_permissions

REPO = Path(__file__).resolve().parents[1]
logger = logging.getLogger("uvmos.train_motion_fusion")
CUE_KEYS = ("work_height", "flow_preset", "motion_sigma_px", "noise_k", "rel_sigma", "min_sigma_px", "boundary_thresh")


def get_parser():
    p = default_argument_parser(__doc__, config_required=False, weights_flag=False)
    p.set_defaults(config_file=str(REPO / "configs" / "uvmos" / "real_cpu.py"))  # its model.proposer gives the cues
    p.add_argument("--dataset", default="davis2016_shared_train", help="a registered video dataset with masks")
    p.add_argument("--holdout", default="", help="comma-separated video ids left out of training, for the check")
    p.add_argument("--only", default="", help="comma-separated video ids to train on (default: all but holdout)")
    p.add_argument("--out", required=True, help="weights file to write")
    p.add_argument("--cache", default="output/motion_fusion_cache", help="folder for the per-video cue caches")
    p.add_argument("--iters", type=int, default=1500)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=160)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--width", type=int, default=16, help="MotionFusionNet width")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    return p


def build_cue_proposer(config_file: str, overrides=()):
    """The config's ``MotionProposer`` without its fusion (the cues do not depend on it)."""
    from detectron2.config import instantiate

    cfg = load_config(config_file, overrides)
    pcfg = cfg.model.proposer
    if "fusion" in pcfg:
        pcfg.fusion = None
    proposer = instantiate(pcfg)
    if not hasattr(proposer, "cue_stack"):
        raise ValueError(f"{config_file}: model.proposer is {type(proposer).__name__}, not a MotionProposer")
    return proposer


def video_cues(proposer, video: dict, cache_dir: str) -> dict:
    """{"cues": (T', 6, h, w) float16, "fg": (T', h, w) uint8} for one video (cached)."""
    key = hashlib.sha1(json.dumps({k: getattr(proposer, k) for k in CUE_KEYS}, sort_keys=True).encode()).hexdigest()
    path = os.path.join(cache_dir, f"{video['video_id']}_{key[:10]}.npz")
    if os.path.isfile(path):
        with np.load(path) as z:
            return {"cues": z["cues"], "fg": z["fg"]}
    if not video.get("annotations"):
        raise ValueError(f"{video['video_id']}: no ground-truth masks (the dataset has no annotations)")
    annotated = video.get("annotated") or [True] * len(video["file_names"])
    cues, fgs, prev = [], [], None
    for f, anns, has_gt in zip(video["file_names"], video["annotations"], annotated):
        gray = cv2.cvtColor(proposer.to_working(read_frame(f)), cv2.COLOR_BGR2GRAY)
        if prev is not None and has_gt:
            full = np.zeros((video["height"], video["width"]), np.float32)
            for a in anns:
                full = np.maximum(full, rle_to_mask(a["segmentation"]).astype(np.float32))
            cues.append(proposer.cue_stack(proposer.flow(gray, prev)).astype(np.float16))
            fgs.append((proposer.to_working(full) >= 0.5).astype(np.uint8))
        prev = gray
    if not cues:
        raise ValueError(f"{video['video_id']}: no annotated frame after the first")
    out = {"cues": np.stack(cues), "fg": np.stack(fgs)}
    os.makedirs(cache_dir, exist_ok=True)
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **out)
    return out


def sample_batch(data, rng, batch: int, crop: int):
    xs, ys = [], []
    for _ in range(batch):
        d = data[rng.integers(len(data))]
        t = rng.integers(len(d["fg"]))
        h, w = d["fg"].shape[1:]
        y0, x0 = rng.integers(0, max(1, h - crop + 1)), rng.integers(0, max(1, w - crop + 1))
        x = d["cues"][t, :, y0 : y0 + crop, x0 : x0 + crop].astype(np.float32)
        y = d["fg"][t, y0 : y0 + crop, x0 : x0 + crop].astype(np.float32)
        if rng.random() < 0.5:  # mirror: the residual's x component changes sign
            x, y = x[:, :, ::-1].copy(), y[:, ::-1].copy()
            x[0] = -x[0]
        xs.append(x)
        ys.append(y)
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))[:, None]


def pixel_iou(pred: np.ndarray, gt: np.ndarray) -> float:
    u = np.logical_or(pred, gt).sum()
    return float(np.logical_and(pred, gt).sum() / u) if u else 1.0


def check(net, proposer, holdout) -> dict:
    """Mean frame IoU (at 0.5) of the net and of the noisy-or rule on held-out videos."""
    out = {}
    for vid, d in holdout.items():
        nets, rules = [], []
        for cues, fg in zip(d["cues"], d["fg"]):
            c = cues.astype(np.float32)
            rule = proposer.rule_evidence(c)
            nets.append(pixel_iou(net.predict(c) >= 0.5, fg > 0))
            rules.append(pixel_iou(rule >= 0.5, fg > 0))
        out[vid] = {"net": float(np.mean(nets)), "rule": float(np.mean(rules))}
    return out


def main(argv=None):
    args = get_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    from detectron2.data import DatasetCatalog

    try:
        videos = {v["video_id"]: v for v in DatasetCatalog.get(args.dataset)}
    except KeyError as e:
        raise SystemExit(f"--dataset {args.dataset}: not a registered dataset ({e})") from None
    holdout_ids = [s for s in args.holdout.split(",") if s]
    only = [s for s in args.only.split(",") if s]
    for s in holdout_ids + only:
        if s not in videos:
            raise SystemExit(f"{args.dataset}: no video {s!r} (have: {', '.join(sorted(videos))})")
    train_ids = only or [v for v in videos if v not in holdout_ids]
    if set(train_ids) & set(holdout_ids):
        raise SystemExit(f"videos both trained on and held out: {sorted(set(train_ids) & set(holdout_ids))}")
    try:
        proposer = build_cue_proposer(args.config_file, args.opts)
    except ValueError as e:  # includes ConfigError
        raise SystemExit(str(e)) from None

    try:
        cached = {
            vid: video_cues(proposer, videos[vid], args.cache)
            for vid in tqdm.tqdm(train_ids + holdout_ids, desc="cues", unit="video")
        }
    except ValueError as e:
        raise SystemExit(f"--dataset {args.dataset}: {e}") from None
    data = [cached[v] for v in train_ids]
    holdout = {v: cached[v] for v in holdout_ids}
    logger.info("training on %d videos (%d frames); cues %s", len(data), sum(len(d["fg"]) for d in data), CUE_NAMES)

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    net = MotionFusionNet(width=args.width)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.5 * (1 + math.cos(math.pi * i / args.iters)))
    loss_fn = torch.nn.BCEWithLogitsLoss()
    bar, t0, avg = tqdm.trange(args.iters, desc="train", unit="it"), time.time(), None
    for it in bar:
        x, y = sample_batch(data, rng, args.batch, args.crop)
        loss = loss_fn(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        avg = loss.item() if avg is None else 0.98 * avg + 0.02 * loss.item()
        if it % 50 == 0:
            bar.set_postfix(loss=f"{avg:.4f}", lr=f"{sched.get_last_lr()[0]:.2e}")
    net.eval()
    meta = {
        "dataset": args.dataset,
        "videos": train_ids,
        "iters": args.iters,
        "final_loss": avg,
        "cue_settings": {k: getattr(proposer, k) for k in CUE_KEYS},
        "train_seconds": round(time.time() - t0, 1),
    }
    if holdout:
        meta["holdout_iou"] = check(net, proposer, holdout)
        for vid, r in meta["holdout_iou"].items():
            logger.info("holdout %-18s frame IoU at 0.5: net %.3f, noisy-or rule %.3f", vid, r["net"], r["rule"])
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with atomic_path(args.out, suffix=".pth") as tmp:
        torch.save({"model": net.state_dict(), "__meta__": meta}, tmp)
    public_permissions(args.out)
    logger.info("wrote %s (%.1f KB)", args.out, os.path.getsize(args.out) / 1024)
    return meta


if __name__ == "__main__":
    main()
