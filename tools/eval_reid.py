#!/usr/bin/env python
"""How well T-Net's re-ID embeddings (eq. 10) tell objects apart, on ground-truth masks.

    python tools/eval_reid.py --config-file configs/uvmos/tiny_cpu.py --dataset uvmos_synth_hard_val
    python tools/eval_reid.py --config-file configs/uvmos/tiny_cpu_reid_hard.py --dataset uvmos_synth_hard_val
    (trailing KEY=VALUE overrides, e.g. train.init_checkpoint=PATH; the weights are the config's
    train.init_checkpoint, and random ones are refused unless --allow-random-weights)

Every ``--stride``-th frame of each video goes through the config's proposer (for its features) and
the associator's feature source; the associator's ``reid`` embedder embeds every ground-truth
object. Reported, over all pairs of sampled frames (t, t + k) of a video with 1 <= k <= ``--max-gap``:

* ``rank1``: the object at t + k nearest (cosine) to an object at t is the same object;
* ``rank1_lookalike``: the same, counted only when a second object of the same category is in
  frame t + k (the crossing twins and look-alikes of the hard preset);
* ``rank1_reappear``: the same, for an object's first frame back after >= 5 frames out of view
  against its last frame before (re-identification after an occlusion or an exit);
* ``margin``: mean of cos(same object) - max cos(other object).
"""

import json

import numpy as np
import torch


def embed_video(model, video, stride):
    """{frame index: (ids (N,), categories (N,), embeddings (N, E))} for every stride-th frame."""
    from uvmos.data.folder import iter_frames
    from uvmos.data.video_dict import rle_to_mask

    out = {}
    for t, frame in iter_frames(video):
        anns = [a for a in video["annotations"][t] if a.get("segmentation")]
        if t % stride or not anns:
            continue
        image = torch.from_numpy(np.ascontiguousarray(frame.transpose(2, 0, 1)))
        inp = {
            "image": image,
            "height": frame.shape[0],
            "width": frame.shape[1],
            "video_id": video["video_id"],
            "frame_idx": t,
        }
        proposals = model.proposer([inp])[0]
        feats = {k: v.float() for k, v in model.associator.features(inp, proposals).items()}
        masks = torch.from_numpy(np.stack([rle_to_mask(a["segmentation"]) for a in anns]).astype(bool))
        emb = model.associator.reid(feats, masks)
        out[t] = (
            np.array([a["instance_id"] for a in anns]),
            np.array([a.get("category_id", 0) for a in anns]),
            emb.detach().numpy(),
        )
    return out


def score_video(emb, max_gap):
    r1, r1_look, r1_back, margins = [], [], [], []
    frames = sorted(emb)
    last_seen = {}
    for i, t in enumerate(frames):
        ids_t, cats_t, e_t = emb[t]
        for t0 in frames[:i]:
            if t - t0 > max_gap:
                continue
            ids0, _, e0 = emb[t0]
            sim = e0 @ e_t.T
            for a, oid in enumerate(ids0):
                same = ids_t == oid
                if not same.any() or same.all():
                    continue
                best = ids_t[int(np.argmax(sim[a]))] == oid
                r1.append(best)
                margins.append(float(sim[a][same].max() - sim[a][~same].max()))
                cat = cats_t[same][0]
                if (cats_t[~same] == cat).any():
                    r1_look.append(best)
        for j, oid in enumerate(ids_t):  # re-identification after >= 5 frames away
            prev = last_seen.get(oid)
            if prev is not None and t - prev[0] >= 5 and len(ids_t) > 1:
                r1_back.append(ids_t[int(np.argmax(prev[1] @ e_t.T))] == oid)
            last_seen[oid] = (t, e_t[j])
    return r1, r1_look, r1_back, margins


def main(argv=None):
    from uvmos.engine.defaults import default_argument_parser

    p = default_argument_parser(__doc__)
    p.add_argument("--dataset", required=True)
    p.add_argument("--stride", type=int, default=1, help="embed every k-th frame")
    p.add_argument("--max-gap", type=int, default=30)
    p.add_argument("--max-videos", type=int, default=None)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(1)

    from detectron2.data import DatasetCatalog

    import uvmos  # noqa: F401
    from uvmos.engine.checkpoint import CheckpointError
    from uvmos.engine.defaults import build_model
    from uvmos.utils.config import ConfigError, ToolExit, load_config

    try:
        cfg = load_config(args.config_file, args.opts)
        model = build_model(cfg, device="cpu", allow_random_weights=args.allow_random_weights)
    except (ConfigError, CheckpointError) as e:
        raise ToolExit(e) from None
    r1, look, back, margins = [], [], [], []
    with torch.no_grad():
        for video in DatasetCatalog.get(args.dataset)[: args.max_videos]:
            a, b, c, d = score_video(embed_video(model, video, args.stride), args.max_gap)
            r1 += a
            look += b
            back += c
            margins += d
    res = {
        "config": args.config_file,
        "dataset": args.dataset,
        "rank1": float(np.mean(r1)),
        "rank1_lookalike": float(np.mean(look)) if look else None,
        "rank1_reappear": float(np.mean(back)) if back else None,
        "margin": float(np.mean(margins)),
        "pairs": len(r1),
        "lookalike_pairs": len(look),
        "reappear_pairs": len(back),
    }
    print(json.dumps(res))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
