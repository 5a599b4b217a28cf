#!/usr/bin/env python
"""Does eq. 10's re-ID term catch a T-Net target that moved onto another object? Measured in the tracker.

    python tools/eval_verification.py --config-file configs/uvmos/tiny_cpu.py --dataset uvmos_synth_hard_val
    python tools/eval_verification.py --config-file configs/uvmos/tiny_cpu_reid_hard.py --dataset uvmos_synth_hard_val
    (trailing KEY=VALUE overrides, e.g. train.init_checkpoint=PATH; the weights are the config's
    train.init_checkpoint, and random ones are refused unless --allow-random-weights)

The config's model runs on every video as in inference. Each tracklet is given the ground-truth
object its first mask covers (IoU > 0.5; none: not counted). In every later frame, the proposal
that eq. 10 picks for the target (the best s among those passing the IoU gate) is labelled *own*
when it covers that same object, *other* when it covers another one. Printed: the percentiles of
s for both groups and the share of each that passes several thr_reid values. A verification whose
re-ID term works lets few *other* proposals pass while keeping the *own* ones (docs/tnet.md,
"Re-identification embeddings").
"""

import json
import os

import numpy as np
import torch

THRESHOLDS = (0.6, 1.2, 1.4, 1.6)


def build_tracker_model(args):
    """The config's model; its associator must be a TNetTracker (the one whose decisions are read)."""
    import uvmos  # noqa: F401
    from uvmos.engine.checkpoint import CheckpointError
    from uvmos.engine.defaults import build_model
    from uvmos.modeling.tnet import TNetTracker
    from uvmos.utils.config import ConfigError, ToolExit, load_config

    try:
        cfg = load_config(args.config_file, args.opts)
        model = build_model(cfg, device="cpu", allow_random_weights=args.allow_random_weights)
    except (ConfigError, CheckpointError) as e:
        raise ToolExit(e) from None
    if not isinstance(model.associator, TNetTracker):
        raise SystemExit(f"{args.config_file}: the associator is {type(model.associator).__name__}, not a TNetTracker")
    return model


def object_of(masks, gt):
    """Index of the ground-truth object each mask covers with IoU > 0.5, else -1."""
    from uvmos.modeling.tnet.mask_ops import mask_iou

    if not len(masks) or not len(gt):
        return [-1] * len(masks)
    best, idx = mask_iou(masks, gt).max(1)
    return [int(i) if float(b) > 0.5 else -1 for i, b in zip(idx, best)]


def instrument(trk, groups, state):
    """Wrap the tracker's verification and discovery phases: each runs as before, then its decision
    is read (``state``: the video's ground truth "gt" and each track's object "owner")."""
    verify, discover = trk._verify, trk._discover

    def work_gt(f):
        """The frame's ground truth at the tracker's working resolution (as ``tnet.state.read_proposals``)."""
        o = f.stride // 2
        return state["gt"][f.t][:, o :: f.stride, o :: f.stride]

    def _verify(f):  # the tracker's own phase, then read its decision
        verify(f)
        props_obj = object_of(f.props.work, work_gt(f))
        for k, tr in enumerate(f.tracks):
            b, own = int(f.ver.best[k]), state["owner"].get(tr.track_id, -1)
            if b >= 0 and own >= 0 and props_obj[b] >= 0:
                groups["own" if props_obj[b] == own else "other"].append(float(f.ver.best_score[k]))

    def _discover(f):
        discover(f)
        for tr in f.new_tracks:
            state["owner"][tr.track_id] = object_of((f.id_work == tr.track_id)[None], work_gt(f))[0]

    trk._verify, trk._discover = _verify, _discover


def gt_masks(v):
    """Per frame, the video's ground-truth masks as a bool (N, H, W) tensor."""
    from uvmos.data.video_dict import rle_to_mask

    H, W = int(v["height"]), int(v["width"])
    return [
        torch.from_numpy(np.stack([rle_to_mask(a["segmentation"]) for a in anns]).astype(bool))
        if anns
        else torch.zeros((0, H, W), dtype=torch.bool)
        for anns in v["annotations"]
    ]


def summarize(groups):
    """Percentiles of s and the share passing each threshold, per group (printed and returned)."""
    out = {}
    for name, vals in groups.items():
        a = np.asarray(vals)
        out[name] = {
            "n": int(len(a)),
            "percentiles_5_50_95": np.percentile(a, [5, 50, 95]).round(3).tolist() if len(a) else None,
            "pass": {str(t): float(np.mean(a > t)) if len(a) else None for t in THRESHOLDS},
        }
        print(
            f"{name:6s} n={len(a):5d}  s 5/50/95 %: {out[name]['percentiles_5_50_95']}  passing thr_reid "
            + "  ".join(f"{t}: {out[name]['pass'][str(t)]:.3f}" for t in THRESHOLDS if len(a))
        )
    return out


def main(argv=None):
    from uvmos.engine.defaults import default_argument_parser

    p = default_argument_parser(__doc__)
    p.add_argument("--dataset", default="uvmos_synth_hard_val")
    p.add_argument("--max-videos", type=int, default=None)
    p.add_argument("--json", default=None, help="also write the figures here")
    args = p.parse_args(argv)
    torch.set_num_threads(1)

    from detectron2.data import DatasetCatalog

    from uvmos.data.folder import iter_frames

    model = build_tracker_model(args)
    groups = {"own": [], "other": []}
    state = {}
    instrument(model.associator, groups, state)
    for v in DatasetCatalog.get(args.dataset)[: args.max_videos]:
        state["gt"] = gt_masks(v)
        state["owner"] = {}
        for _ in model.run_video((f for _, f in iter_frames(v)), v):
            pass
    out = summarize(groups)
    if args.json:
        with open(args.json + ".tmp", "w") as fh:
            json.dump(out, fh, indent=1)
        os.replace(args.json + ".tmp", args.json)
    return out


if __name__ == "__main__":
    main()
