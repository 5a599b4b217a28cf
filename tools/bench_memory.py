#!/usr/bin/env python
"""Benchmarks of the streaming video model (not unit tests).

* ``rss``: peak resident memory of one process segmenting an N-frame video, for several N (default
  100 and 1000), each in a fresh subprocess; prints the ratio (goal: <= 1.1, memory must not grow
  with the video length), and the same for the growth above the RSS once the model is built
  (importing torch alone maps ~0.7 GB, which would hide a leak in the plain ratio).
* ``speed``: seconds per frame of each part (``proposal``, ``association``; uvmos PartTimer) at a
  given frame size (default 480x854) with 1, 3 and 5 objects.

Frames come from an on-the-fly moving-shapes stream (textured ellipses over a textured background,
nothing stored). The config's proposer runs on every frame (its time and its ``features`` are
real), but its instances are replaced by the stream's ground-truth masks (``--oracle``, default),
so the tracker follows exactly K objects whatever the proposer's weights.

    python tools/bench_memory.py rss   --config-file configs/uvmos/tiny_cpu.py --frames 100 1000
    python tools/bench_memory.py speed --config-file configs/uvmos/tiny_cpu.py --objects 1 3 5 --num-frames 20
    (add KEY=VALUE config overrides at the end, e.g. model.associator.memory.capacity=40, or the
    weights: train.init_checkpoint=output/dnet_tiny_cpu/model_final.pth)

The weights are the config's ``train.init_checkpoint``; a model that would run with random weights
is refused unless ``--allow-random-weights``.
"""

import argparse
import json
import resource
import subprocess
import sys
import time

import cv2
import numpy as np
import torch


class MovingShapes:
    """Deterministic stream: frame t and its id map are computed from t alone (nothing kept)."""

    def __init__(self, height: int, width: int, num_objects: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.H, self.W, self.K = height, width, num_objects
        small = rng.normal(120, 40, (height // 8 + 1, width // 8 + 1, 3)).astype(np.float32)
        self.bg = np.clip(
            cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC) + rng.normal(0, 6, (height, width, 3)),
            0,
            255,
        ).astype(np.uint8)
        u = min(height, width)
        self.objs = []
        for _ in range(num_objects):
            colour = rng.uniform(30, 230, 3)
            tex = rng.normal(0, 25, (64, 64, 3)).astype(np.float32)
            self.objs.append(
                {
                    "axes": (int(u * rng.uniform(0.08, 0.15)), int(u * rng.uniform(0.06, 0.12))),
                    "centre": rng.uniform(0.2, 0.8, 2),
                    "amp": rng.uniform(0.1, 0.3, 2),
                    "freq": rng.uniform(0.01, 0.04, 2),
                    "phase": rng.uniform(0, 2 * np.pi, 2),
                    "colour": colour,
                    "tex": cv2.resize(tex, (width, height)),
                }
            )

    def __call__(self, t: int):
        img = self.bg.copy()
        id_map = np.zeros((self.H, self.W), np.int32)
        for k, o in enumerate(self.objs):  # later objects occlude earlier ones
            cy, cx = o["centre"] + o["amp"] * np.sin(o["freq"] * t * 2 * np.pi + o["phase"])
            m = np.zeros((self.H, self.W), np.uint8)
            cv2.ellipse(m, (int(cx * self.W), int(cy * self.H)), o["axes"], float(t % 360), 0, 360, 1, -1)
            m = m.astype(bool)
            img[m] = np.clip(o["colour"] + o["tex"][m], 0, 255).astype(np.uint8)
            id_map[m] = k + 1
        return img, id_map


class OracleInstances(torch.nn.Module):
    """Runs ``proposer`` (timing, features) and replaces its instances by the stream's masks."""

    def __init__(self, proposer, stream: MovingShapes):
        super().__init__()
        self.proposer, self.stream = proposer, stream
        self.test_size = getattr(proposer, "test_size", None) if proposer is not None else None

    def forward(self, batched_inputs):
        from detectron2.structures import Instances

        outs = self.proposer(batched_inputs) if self.proposer is not None else [{} for _ in batched_inputs]
        for x, out in zip(batched_inputs, outs):
            _, id_map = self.stream(int(x["frame_idx"]))
            ids = [i for i in range(1, self.stream.K + 1) if (id_map == i).any()]
            inst = Instances((x["height"], x["width"]))
            inst.pred_masks = torch.from_numpy(
                np.stack([id_map == i for i in ids]) if ids else np.zeros((0,) + id_map.shape, bool)
            )
            inst.scores = torch.ones(len(ids))
            inst.pred_classes = torch.zeros(len(ids), dtype=torch.long)
            out["instances"] = inst
        return outs


def build_model(args, stream, timer=None):
    import uvmos  # noqa: F401
    from uvmos.engine.checkpoint import CheckpointError
    from uvmos.engine.defaults import build_model as build
    from uvmos.utils.config import ConfigError, ToolExit, load_config

    try:
        cfg = load_config(args.config_file, args.opts)
        cfg.model.test_size = tuple(args.size)
        if "test_size" in cfg.model.proposer:  # the proposer's own test size wins in VideoSegmenter
            cfg.model.proposer.test_size = tuple(args.size)
        # the weights: train.init_checkpoint (a whole-model checkpoint, e.g. the embedded model, or a
        # proposer-only one)
        model = build(cfg, device="cpu", allow_random_weights=args.allow_random_weights)
    except (ConfigError, CheckpointError) as e:
        raise ToolExit(e) from None
    if args.oracle:
        from uvmos.modeling.proposers import OracleProposer

        inner = None if isinstance(model.proposer, OracleProposer) else model.proposer  # no dataset needed
        model.proposer = OracleInstances(inner, stream)
    model.timer = timer
    return model.eval()


def run_frames(model, stream, n: int):
    frames = (stream(t)[0] for t in range(n))
    count = 0
    for out in model.run_video(frames, {"video_id": "bench"}):
        count += 1
        del out
    return count


def child_rss(args) -> None:
    torch.set_num_threads(args.threads)
    stream = MovingShapes(*args.size, args.objects[0], seed=0)
    model = build_model(args, stream)
    built_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB
    t0 = time.time()
    n = run_frames(model, stream, args.child_frames)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(
        json.dumps(
            {
                "frames": n,
                "peak_rss_mb": peak_mb,
                "built_rss_mb": built_mb,
                "seconds": time.time() - t0,
                "tracks": len(getattr(model.associator, "tracks", {})),
            }
        )
    )


def cmd_rss(args) -> None:
    results = []
    for n in args.frames:
        cmd = [sys.executable, __file__, "rss", "--child-frames", str(n)] + args.passthrough
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode:
            sys.stderr.write(out.stderr)
            raise SystemExit(out.returncode)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        results.append(res)
        res["growth_mb"] = res["peak_rss_mb"] - res["built_rss_mb"]
        print(
            f"{n:6d} frames: peak RSS {res['peak_rss_mb']:8.1f} MB, of which {res['growth_mb']:7.1f} MB after the "
            f"model was built ({res['seconds']:.0f} s, {res['tracks']} live tracks)",
            flush=True,
        )
    if len(results) >= 2:
        a, b = results[0], results[-1]
        print(
            f"ratio {args.frames[-1]} / {args.frames[0]} frames: peak RSS {b['peak_rss_mb'] / a['peak_rss_mb']:.3f} "
            f"(goal <= 1.1); growth during the video {b['growth_mb'] / max(a['growth_mb'], 1e-9):.3f}"
        )


def cmd_speed(args) -> None:
    from uvmos.evaluation.timing import PartTimer

    torch.set_num_threads(args.threads)
    print(
        f"{args.config_file} at {args.size[0]}x{args.size[1]}, {args.num_frames} frames "
        f"(+{args.warmup} warm-up), {args.threads} thread(s)"
    )
    for k in args.objects:
        stream = MovingShapes(*args.size, k, seed=k)
        timer = PartTimer()
        model = build_model(args, stream, timer=None)
        frames = (stream(t)[0] for t in range(args.warmup + args.num_frames))
        for _, out in model.run_video(frames, {"video_id": "bench"}):
            if out.frame_idx == args.warmup - 1:  # the targets exist now: time the next frames
                model.timer = timer
        per_part, fps = timer.summary()
        parts = "  ".join(f"{p}: {v:.3f} s/frame" for p, v in per_part.items())
        print(f"{k} object(s): {parts}  total {1 / fps if fps else 0:.3f} s/frame ({fps:.2f} FPS)", flush=True)


def main(argv=None):
    from uvmos.engine.defaults import default_argument_parser

    p = default_argument_parser(__doc__, config_required=False)
    p.set_defaults(config_file="configs/uvmos/tiny_cpu.py")
    p.add_argument("mode", choices=["rss", "speed"])
    p.add_argument("--size", type=int, nargs=2, default=[480, 854], metavar=("H", "W"))
    p.add_argument("--objects", type=int, nargs="+", default=None)
    p.add_argument("--frames", type=int, nargs="+", default=[100, 1000], help="rss: video lengths")
    p.add_argument("--num-frames", type=int, default=20, help="speed: timed frames")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument(
        "--no-oracle",
        dest="oracle",
        action="store_false",
        help="track the proposer's own instances instead of the stream's masks",
    )
    p.add_argument("--child-frames", type=int, default=0, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.objects is None:
        args.objects = [3] if args.mode == "rss" else [1, 3, 5]
    if args.mode == "rss" and args.child_frames:
        return child_rss(args)
    args.passthrough = (
        [
            "--config-file",
            args.config_file,
            "--size",
            *map(str, args.size),
            "--objects",
            str(args.objects[0]),
            "--threads",
            str(args.threads),
        ]
        + (["--allow-random-weights"] if args.allow_random_weights else [])
        + ([] if args.oracle else ["--no-oracle"])
        + list(args.opts)
    )
    return cmd_rss(args) if args.mode == "rss" else cmd_speed(args)


if __name__ == "__main__":
    main()
