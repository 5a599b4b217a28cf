#!/usr/bin/env python
"""Draw a proposer's per-frame instance proposals on a few frames of registered videos (a grid).

    python tools/visualize_proposals.py --config-file configs/dnet/tiny_cpu.py --dataset uvmos_synth_val \
        --videos 3 --frames 0 8 16 --out docs/images/dnet_proposals_synth.jpg \
        train.init_checkpoint=output/dnet_tiny_cpu/model_final.pth
    python tools/visualize_proposals.py --config-file configs/dnet/tiny_cpu.py --dataset davis2016_shared_val \
        --videos 2 --frames 0 19 39 --out docs/images/dnet_proposals_davis.jpg \
        train.init_checkpoint=output/dnet_tiny_cpu/model_final.pth "model.test_size=[192,342]"

The weights are ``train.init_checkpoint`` (a trailing override, or the config's own); a model that
would run with random weights is refused unless ``--allow-random-weights``.

Each video runs frame by frame (frame t guided by the proposer's own output on t-1, as in
evaluation); the chosen frames are drawn with detectron2's ``Visualizer`` (proposal masks with
their scores), next to the salient-foreground probability when the proposer returns one.
"""

import os

import cv2
import numpy as np
import torch
from detectron2.data import DatasetCatalog
from detectron2.utils.visualizer import Visualizer

import uvmos  # noqa: F401
from uvmos.data.io import read_frame
from uvmos.engine.checkpoint import CheckpointError
from uvmos.engine.defaults import build_model, default_argument_parser
from uvmos.modeling.proposers.video import propose_video
from uvmos.utils.config import ConfigError, ToolExit, load_config


def main(argv=None):
    p = default_argument_parser(__doc__)
    p.add_argument("--dataset", default="uvmos_synth_val")
    p.add_argument("--videos", type=int, default=3)
    p.add_argument("--frames", type=int, nargs="+", default=[0, 8, 16])
    p.add_argument("--score-thresh", type=float, default=0.1)
    p.add_argument("--tile-height", type=int, default=200)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    try:
        cfg = load_config(args.config_file, args.opts)
        model = build_model(cfg, device="cpu", allow_random_weights=args.allow_random_weights)
    except (ConfigError, CheckpointError) as e:
        raise ToolExit(e) from None
    rows = []
    with torch.no_grad():
        for video in DatasetCatalog.get(args.dataset)[: args.videos]:
            wanted = {t for t in args.frames if t < video["length"]}
            tiles = []
            for t, out in propose_video(model, video):
                if t not in wanted:
                    continue
                frame = read_frame(video["file_names"][t])
                inst = out["instances"]
                inst = inst[inst.scores >= args.score_thresh]
                vis = Visualizer(frame[:, :, ::-1])
                if len(inst):
                    vis.overlay_instances(
                        masks=inst.pred_masks.numpy(), labels=[f"{s:.2f}" for s in inst.scores.tolist()], alpha=0.5
                    )
                img = vis.get_output().get_image()[:, :, ::-1]
                pair = [img]
                if "foreground" in out:
                    fg = (255 * out["foreground"].float().clamp(0, 1).numpy()).astype(np.uint8)
                    pair.append(cv2.applyColorMap(fg, cv2.COLORMAP_VIRIDIS))
                tile = np.concatenate(pair, axis=1)
                scale = args.tile_height / tile.shape[0]
                tiles.append(cv2.resize(tile, (int(tile.shape[1] * scale), args.tile_height)))
                if len(tiles) == len(wanted):
                    break
            rows.append(np.concatenate(tiles, axis=1))
    width = max(r.shape[1] for r in rows)
    grid = np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows], axis=0)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp" + os.path.splitext(args.out)[1]
    cv2.imwrite(tmp, grid, [cv2.IMWRITE_JPEG_QUALITY, 85])
    os.replace(tmp, args.out)
    print(f"saved {args.out} ({grid.shape[1]}x{grid.shape[0]})")


if __name__ == "__main__":
    main()
