#!/usr/bin/env python
"""Measure a D-Net config: feature strides/channels (§3.1), parameters and FLOPs (fvcore), CPU speed.

    python tools/analyze_dnet.py --config-file configs/dnet/r50_paper.py --allow-random-weights \
        train.init_checkpoint=                                                          # 480x854, untrained
    python tools/analyze_dnet.py --config-file configs/dnet/tiny_cpu.py --size 192 320 --train-iters 10 \
        train.init_checkpoint=output/dnet_tiny_cpu/model_final.pth
    python tools/analyze_dnet.py --config-file ... --output stats.json train.init_checkpoint=output/x/model_final.pth

FLOPs are fvcore's count (one fused multiply-add = one flop) of the network for one frame with
its SGM guidance (``DNet.forward_tensors``), without post-processing. Speed: ``--runs`` timed
calls of the proposer on one frame with a previous frame (the steady state; the first frame's
two-pass is timed separately), split into network and post-processing, on ``--threads`` CPU
threads. Untrained weights make post-processing slow and unrepresentative (hundreds of spurious
centers): the weights are ``train.init_checkpoint`` (trained ones for real numbers), and a model
that would run with random weights is refused unless ``--allow-random-weights`` (strides, parameters
and FLOPs do not depend on the weights). ``--train-iters`` times training iterations
(forward + backward + SGD step) on a batch shaped like the config's (``total_batch_size`` crops).
"""

import json
import logging
import os
import statistics
import time

import torch
from detectron2.structures import BitMasks, Instances
from fvcore.nn import FlopCountAnalysis, parameter_count
from torch import nn

import uvmos  # noqa: F401
from uvmos.engine.checkpoint import CheckpointError
from uvmos.engine.defaults import build_model, default_argument_parser
from uvmos.modeling.dnet import make_guidance_input
from uvmos.utils.config import ConfigError, ToolExit, load_config


class _Net(nn.Module):
    """D-Net's network on tensors, for fvcore tracing."""

    def __init__(self, dnet):
        super().__init__()
        self.dnet = dnet

    def forward(self, images, guidance):
        out = self.dnet.forward_tensors(images, guidance)
        return out["sal_logits"], out["center"], out["offset"]


def _frame_batch(model, h, w, seed=0):
    g = torch.Generator().manual_seed(seed)
    image = torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8)
    prev = torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8)
    mask = torch.zeros(1, h, w)
    mask[:, h // 4 : h // 2, w // 4 : w // 2] = 1
    return image, prev, mask


def _train_sample(h, w, seed):
    g = torch.Generator().manual_seed(seed)
    img = torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8)
    masks = torch.zeros(2, h, w, dtype=torch.bool)
    masks[0, h // 8 : h // 2, w // 8 : w // 2] = True
    masks[1, h // 2 : 7 * h // 8, w // 2 : 7 * w // 8] = True
    inst = Instances((h, w))
    inst.gt_masks = BitMasks(masks)
    inst.gt_classes = torch.zeros(2, dtype=torch.long)
    return {
        "image": img,
        "prev_image": img.clone(),
        "instances": inst,
        "prev_instances": inst,
        "sem_seg": masks.any(0).long(),
        "height": h,
        "width": w,
    }


def _forward(model, image, prev, mask):
    """(padded images, SGM guidance or None, ``forward_tensors`` outputs) of one frame."""
    images = model._images([{"image": image}], "image")
    guidance = None
    if model.use_sgm:
        p = model._images([{"image": prev}], "image")
        guidance = make_guidance_input(p.tensor, model._pad([mask], p), float(model.pixel_std.mean()))
    with torch.no_grad():
        out = model.forward_tensors(images.tensor, guidance)
    return images, guidance, out


def _strides(images, out) -> dict:
    """Channels, stride and size of every feature map and head output."""
    H, W = images.tensor.shape[-2:]
    feats = {}
    for k, v in out["features"].items():
        feats[k] = {"channels": int(v.shape[1]), "stride": round(H / v.shape[-2], 2), "shape": list(v.shape[-2:])}
    for k in ("sal_logits", "center", "offset"):
        feats[k] = {
            "channels": int(out[k].shape[1]),
            "stride": round(H / out[k].shape[-2], 2),
            "shape": list(out[k].shape[-2:]),
        }
    return {"padded_input": [int(H), int(W)], "features": feats}


def _params(model) -> dict:
    counts = parameter_count(model)
    by_module = {n: counts[n] for n, _ in model.named_children() if counts.get(n)}
    return {"params": counts[""], "params_by_module": by_module}


def _flops(model, images, guidance) -> dict:
    fca = FlopCountAnalysis(_Net(model), (images.tensor, guidance))
    fca.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
    stats = {"gflops": fca.total() / 1e9}
    by = fca.by_module()
    stats["gflops_by_module"] = {
        n: by.get("dnet." + n, 0) / 1e9 for n, _ in model.named_children() if by.get("dnet." + n, 0)
    }
    return stats


def _cpu_speed(model, image, prev, mask, out, h, w, runs) -> dict:
    """Median seconds per frame (steady state, with a previous frame), its post-processing part,
    and the first frame's two-pass."""
    inp = {"image": image, "height": h, "width": w, "prev_image": prev, "prev_mask": mask}
    with torch.no_grad():
        model([inp])  # warm-up
        t_all, t_post = [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            model([inp])
            t_all.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            r = model.post_processor(
                out["sal_logits"][0, :, :h, :w], out["center"][0, :, :h, :w], out["offset"][0, :, :h, :w], (h, w)
            )
            t_post.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        model([{"image": image, "height": h, "width": w}])
        t_first = time.perf_counter() - t0
    stats = {"s_per_frame": statistics.median(t_all), "s_per_frame_postprocess": statistics.median(t_post)}
    stats["s_per_frame_network"] = max(stats["s_per_frame"] - stats["s_per_frame_postprocess"], 0.0)
    stats["s_first_frame"] = t_first
    stats["num_proposals"] = len(r["instances"])
    return stats


def _train_speed(model, cfg, size, train_iters) -> dict:
    """Median seconds per training iteration (forward + backward + SGD step; the first is warm-up)."""
    bs = int(cfg.dataloader.train.get("total_batch_size", 4))
    crop = cfg.dataloader.train.mapper.augmentations.get("crop_size") or size
    batch = [_train_sample(int(crop[0]), int(crop[1]), s) for s in range(bs)]
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
    times = []
    for i in range(train_iters + 1):
        t0 = time.perf_counter()
        loss = sum(model(batch).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i:  # first iteration is warm-up
            times.append(time.perf_counter() - t0)
    return {"train_batch": [bs, int(crop[0]), int(crop[1])], "s_per_train_iter": statistics.median(times)}


def analyze(cfg, size, threads=1, runs=3, flops=True, train_iters=0, allow_random_weights=False):
    """The figures of the module doc for ``cfg.model`` with the weights ``cfg.train.init_checkpoint``."""
    torch.set_num_threads(threads)
    model = build_model(cfg, device="cpu", allow_random_weights=allow_random_weights)
    h, w = size
    stats = {"config_size": [h, w], "threads": threads, "use_sgm": model.use_sgm}
    image, prev, mask = _frame_batch(model, h, w)
    images, guidance, out = _forward(model, image, prev, mask)
    stats.update(_strides(images, out))
    stats.update(_params(model))
    if flops:
        stats.update(_flops(model, images, guidance))
    stats.update(_cpu_speed(model, image, prev, mask, out, h, w, runs))
    if train_iters:
        stats.update(_train_speed(model, cfg, size, train_iters))
    return stats


def _print(stats):
    print(
        f"input {stats['config_size'][0]}x{stats['config_size'][1]} (padded {stats['padded_input']}), "
        f"SGM {'on' if stats['use_sgm'] else 'off'}, {stats['threads']} CPU thread(s)"
    )
    print(f"{'tensor':12s} {'channels':>8s} {'stride':>7s}  size")
    for k, v in stats["features"].items():
        print(f"{k:12s} {v['channels']:8d} {v['stride']:7g}  {v['shape'][0]}x{v['shape'][1]}")
    print(
        f"parameters: {stats['params'] / 1e6:.2f} M  "
        + ", ".join(f"{k} {v / 1e6:.2f}M" for k, v in stats["params_by_module"].items())
    )
    if "gflops" in stats:
        print(
            f"GFLOPs (fvcore, 1 MAC = 1 flop): {stats['gflops']:.1f}  "
            + ", ".join(f"{k} {v:.1f}" for k, v in stats["gflops_by_module"].items())
        )
    print(
        f"CPU s/frame: {stats['s_per_frame']:.3f} (network {stats['s_per_frame_network']:.3f}, "
        f"post-processing {stats['s_per_frame_postprocess']:.3f} for {stats['num_proposals']} proposals); "
        f"first frame (two-pass) {stats['s_first_frame']:.3f}"
    )
    if "s_per_train_iter" in stats:
        b = stats["train_batch"]
        print(f"training: {stats['s_per_train_iter']:.3f} s/iter at batch {b[0]} of {b[1]}x{b[2]}")


def main(argv=None):
    p = default_argument_parser(__doc__)
    p.add_argument(
        "--size",
        type=int,
        nargs=2,
        default=None,
        metavar=("H", "W"),
        help="frame size (default: the model's test_size, else 480 854)",
    )
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--no-flops", action="store_true")
    p.add_argument("--train-iters", type=int, default=0)
    p.add_argument("--output", default=None, help="also write the numbers as JSON here")
    args = p.parse_args(argv)
    if not os.path.isfile(args.config_file):
        p.error(f"--config-file {args.config_file!r}: no such file")
    logging.basicConfig(level=logging.WARNING)
    try:
        cfg = load_config(args.config_file, args.opts)
        size = args.size or cfg.model.get("test_size") or (480, 854)
        stats = analyze(
            cfg,
            (int(size[0]), int(size[1])),
            args.threads,
            args.runs,
            not args.no_flops,
            args.train_iters,
            args.allow_random_weights,
        )
    except (ConfigError, CheckpointError) as e:
        raise ToolExit(e) from None
    stats["config_file"] = args.config_file
    _print(stats)
    if args.output:
        tmp = args.output + ".tmp"
        with open(tmp, "w") as f:
            json.dump(stats, f, indent=1)
        os.replace(tmp, args.output)
    return stats


if __name__ == "__main__":
    main()
