#!/usr/bin/env python
"""Gauss-Newton-CG vs gradient descent on eq. 9 for real target-model problems (not a unit test).

Fits the first model of each object of a synthetic video on its ground-truth mask (the pseudo
label y0: eq. 9 with one sample, W1 and W2 jointly -- the "init" problem) and then a memory update
(W2 on the projected samples of the following frames -- the "update" problem), with both solvers,
and prints eq. 9 after k steps and the wall time.

    python tools/bench_solver.py [--config-file configs/uvmos/tiny_cpu.py] [--steps 1 2 5 10] [KEY=VALUE ...]
    python tools/bench_solver.py 'train.init_checkpoint={proposer:output/dnet_tiny_cpu/model_final.pth}'

The features come from the config's model with the weights ``train.init_checkpoint`` (the embedded
model for ``configs/uvmos/tiny_cpu.py``; a D-Net checkpoint loads into the proposer, as above); a
model that would run with random weights is refused unless ``--allow-random-weights``.
"""

import time

import numpy as np
import torch


def build(args):
    import uvmos  # noqa: F401
    from uvmos.engine.checkpoint import CheckpointError
    from uvmos.engine.defaults import build_model
    from uvmos.utils.config import ConfigError, ToolExit, load_config

    try:
        cfg = load_config(args.config_file, args.opts)
        return build_model(cfg, device="cpu", allow_random_weights=args.allow_random_weights)
    except (ConfigError, CheckpointError) as e:
        raise ToolExit(e) from None


def video_features(model, vid, key):
    """The tracker's feature map ``key`` of every frame of the video (float32)."""
    trk, feats = model.associator, []
    with torch.no_grad():
        for t, f in enumerate(vid.frames):
            x = {
                "image": torch.from_numpy(np.ascontiguousarray(f.transpose(2, 0, 1))),
                "height": f.shape[0],
                "width": f.shape[1],
                "frame_idx": t,
                "video_id": vid.name,
            }
            feats.append(trk.features(x, model.proposer([x])[0])[key].float())
    return feats


def bench_object(trk, vid, feats, obj, steps):
    """The init and update problems of one object, each solved by every solver for k steps (printed)."""
    from uvmos.modeling.tnet.mask_ops import downsample_masks
    from uvmos.modeling.tnet.solver import (
        GaussNewtonCG,
        GradientDescent,
        LinearFilterObjective,
        TargetObjective,
        hinge_pixel_weights,
        objective_value,
    )

    tm, regs = trk.target_model, trk.regs
    solvers = {
        "GN-CG": lambda: GaussNewtonCG(init_cg_iters=(10,), update_cg_iters=(10,)),
        "GD (exact step)": lambda: GradientDescent(),
        "GD (lr 1e-3)": lambda: GradientDescent(lr=1e-3),
    }
    ys = [downsample_masks(torch.from_numpy(m == obj)[None], feats[0].shape[-2:]) for m in vid.id_maps]
    X, y0 = feats[0], ys[0]
    init = TargetObjective(tm, X, y0, torch.ones(1), regs, hinge_pixel_weights(y0))
    p0 = tm.init_params(X, torch.Generator().manual_seed(obj))
    p_fit = GaussNewtonCG().solve(init, p0, phase="init")
    Z = torch.cat([tm.project(f, p_fit[0]) for f in feats])
    Y = torch.cat(ys)
    w = torch.tensor([0.9**-j for j in range(len(feats))])
    upd = LinearFilterObjective(Z, Y, w / w.sum(), regs[1], hinge_pixel_weights(Y))
    for name, problem, start in (("init", init, p0), ("update", upd, p_fit[1:])):
        print(f"object {obj} {name}: start {objective_value(problem, start):.5f}")
        for sname, make in solvers.items():
            row = []
            for k in steps:
                t0 = time.perf_counter()
                pk = make().solve(problem, start, phase=name, num_steps=k)
                ms = 1000 * (time.perf_counter() - t0)
                row.append(f"k={k}: {objective_value(problem, pk):.5f} ({ms:.0f} ms)")
            print(f"  {sname:16s} " + "  ".join(row))


def main(argv=None):
    from uvmos.engine.defaults import default_argument_parser

    p = default_argument_parser(__doc__, config_required=False)
    p.set_defaults(config_file="configs/uvmos/tiny_cpu.py")  # its proposer gives the features
    p.add_argument("--feature", default=None, help="feature map (default: the tracker's target_feature)")
    p.add_argument("--steps", type=int, nargs="+", default=[1, 2, 5, 10])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--frames", type=int, default=8)
    args = p.parse_args(argv)
    torch.set_num_threads(1)

    from uvmos.data.synthetic import SyntheticConfig, generate_video

    model = build(args)
    trk = model.associator
    key = args.feature or trk.target_feature
    vid = generate_video(args.seed, SyntheticConfig(length=args.frames, min_objects=2, max_objects=3))
    feats = video_features(model, vid, key)
    print(f"features {key} {tuple(feats[0].shape)}; eq. 9 value after k steps (time)")
    for obj in sorted(set(np.unique(vid.id_maps[0]).tolist()) - {0}):
        bench_object(trk, vid, feats, obj, args.steps)


if __name__ == "__main__":
    main()
