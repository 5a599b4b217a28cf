#!/usr/bin/env python
"""Benchmarks of the streaming video model (not unit tests).

* ``rss``: peak resident memory of one process segmenting an N-frame video, for several N (default
  100 and 1000), each in a fresh subprocess; prints the ratio (goal: <= 1.1, memory must not grow
  with the video length), and the same for the growth above the RSS once the model is built
  (importing torch alone maps ~0.7 GB, which would hide a leak in the plain ratio).
* ``speed``: seconds per frame of each part (``proposal``, ``association``; uvmos PartTimer) at a
  given frame size (default 480x854) with 1, 3 and 5 objects.

Frames are rendered on the fly, nothing stored (``uvmos.data.synthetic_stream.SyntheticStream``:
a synthetic-benchmark scene with K objects that stay in view, its clip played back and forth). The
config's proposer runs on every frame (its time and its ``features`` are real), but its instances
are replaced by the stream's ground-truth masks (``OracleProposer``; ``--no-oracle`` keeps the
proposer's own), so the tracker follows exactly K objects whatever the proposer's weights.

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

import torch

VIDEO_ID = "bench"


def make_stream(args, num_objects: int, seed: int):
    """The benchmark's frames: K objects that stay in view (no entering or leaving), at ``--size``."""
    from uvmos.data.synthetic import SyntheticConfig
    from uvmos.data.synthetic_stream import SyntheticStream

    H, W = args.size
    cfg = SyntheticConfig(height=H, width=W, min_objects=num_objects, max_objects=num_objects, enter_leave_prob=0.0)
    return SyntheticStream(seed, cfg)


class OracleInstances(torch.nn.Module):
    """Runs ``proposer`` (timing, features) and replaces its instances by the stream's masks (an
    ``OracleProposer`` on the stream's video dict, whose frames' annotations are computed when read)."""

    def __init__(self, proposer, stream):
        from uvmos.modeling.proposers import OracleProposer

        super().__init__()
        self.proposer = proposer
        self.oracle = OracleProposer(videos=[stream.video_dict(VIDEO_ID)])
        self.test_size = getattr(proposer, "test_size", None) if proposer is not None else None
        self.input_format = getattr(proposer, "input_format", "BGR") if proposer is not None else "BGR"

    def forward(self, batched_inputs):
        outs = self.proposer(batched_inputs) if self.proposer is not None else [{} for _ in batched_inputs]
        for out, truth in zip(outs, self.oracle(batched_inputs)):
            out["instances"] = truth["instances"]
        return outs


def build_model(args, stream, timer=None):
    import uvmos  # noqa: F401
    from uvmos.engine.checkpoint import CheckpointError
    from uvmos.engine.defaults import build_model as build
    from uvmos.utils.config import ConfigError, ToolExit, load_config

    try:
        cfg = load_config(args.config_file, args.opts)
        if "test_size" in cfg.model.proposer:  # VideoSegmenter resizes the frames to the proposer's test size
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
    for out in model.run_video(frames, {"video_id": VIDEO_ID}):
        count += 1
        del out
    return count


def child_rss(args) -> None:
    torch.set_num_threads(args.threads)
    stream = make_stream(args, args.objects[0], seed=0)
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
        stream = make_stream(args, k, seed=k)
        timer = PartTimer()
        model = build_model(args, stream, timer=None)
        frames = (stream(t)[0] for t in range(args.warmup + args.num_frames))
        for _, out in model.run_video(frames, {"video_id": VIDEO_ID}):
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
    if min(args.size) < 16 or not all(1 <= k <= 254 for k in args.objects):
        p.error("need --size of at least 16 16 and 1 <= --objects <= 254")
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
