#!/usr/bin/env python
"""Per-frame runtime of the paper-size model on a GPU (paper Table 5: D-Net 0.05 s + T-Net 0.06 s =
0.11 s/frame at 480p on DAVIS-17 val), per part and per precision, with peak GPU memory.

    python tools/bench_gpu.py [--config-file configs/uvmos/r50_paper.py] \
        [--frames DIR] [--frames-n 30] [--warmup 3] [--size 480 854] [--objects 2] \
        [--precisions fp32 bf16-dnet bf16 fp16-dnet fp16] [--device cuda] [--output gpu.json] \
        [--allow-random-weights] [KEY=VALUE ...]
    python tools/bench_gpu.py --allow-random-weights train.init_checkpoint=     # timing only, no weights
    python tools/bench_gpu.py \
        'train.init_checkpoint={proposer:DNET_R50.pth,associator.features.backbone:/path/R-101.pkl}'

Runs, for each precision (after ``--warmup`` untimed frames of the pipeline in that precision):

* ``dnet``: the proposer alone, frame t with frame t-1 and the previous masks as SGM guidance;
* ``tnet``: the associator alone (``reset`` then ``step`` per frame) on the controlled proposals,
  with the proposer's outputs of that frame precomputed (kept on the CPU, moved back untimed);
* ``pipeline``: ``VideoSegmenter.run_video`` with its ``PartTimer`` (parts ``proposal`` and
  ``association``); the real proposer runs, and the associator gets the controlled proposals;
* ``tnet_features`` (fp32 only, if the associator has a ``features`` module): its feature extractor.

Every part is timed with ``torch.cuda.synchronize()`` at both ends (``PartTimer``). Statistics over
all ``--frames-n`` frames (frame 0 includes D-Net's two-pass first frame and T-Net's target-model
initialisation, as any video's first frame does) and over frames 1.. separately.

Controlled proposals (choice: T-Net's cost grows with its number of targets, and proposals of a
random-weight D-Net are noise): ``--objects`` K per frame (default 2, about DAVIS-17 val's 61
objects / 30 videos): the objects of the frames' masks (``NNNNN.png`` beside ``NNNNN.jpg``, or in
``--masks``) first, then ellipses moving across the frame.

Precisions: ``fp32`` (torch defaults: cuDNN TF32 convolutions on, TF32 matmul off; both recorded);
``bf16``/``fp16``: ``torch.autocast`` around the whole frame; ``bf16-dnet``/``fp16-dnet``: around
the proposer only (its features cast back to fp32 for the associator). A precision that fails
(e.g. an op without a half kernel) is recorded with its error and the next one runs.

Weights: the config's ``train.init_checkpoint`` (a trailing override; ``configs/uvmos/r50_paper.py``
names a trained D-Net and ImageNet R-101, neither shipped); a model that would run with random
weights is refused unless ``--allow-random-weights``. No weights at all (``--allow-random-weights
train.init_checkpoint=``): timing only, the segmentations are meaningless; every batch norm's
statistics are set once from its input on frame 0 (so activations stay O(1) through 50-100 random
layers; otherwise fp16 overflows and the run times inf/NaN arithmetic), and D-Net keeps at most
``--top-k`` centres (random heads give ~200 spurious ones; a trained D-Net gives a few). Frames:
``--frames``, else ``.gpu_frames`` in the repository, else ``../shared/data/davis2016`` car-shadow,
else seeded noise.
The JSON (``--output``, default ``$OUT/gpu_bench.json`` or ``output/bench/gpu.json``) is rewritten
after every run, so a run cut short still leaves the finished ones; a run that would likely end past
``--time-limit`` (elapsed + the longest run so far) is skipped, so precisions come in their order.
"""

import contextlib
import os
import platform
import time
from pathlib import Path

import torch
from bench_gpu_utils import (
    RunRecorder,
    amp_context,
    calibration_pass,
    recalibrate_norms,
    run_dnet,
    run_pipeline,
    run_tnet,
    run_tnet_features,
)

ROOT = Path(__file__).resolve().parents[1]

PAPER_MS = {"dnet": 50.0, "tnet": 60.0, "total": 110.0}  # Table 5, DAVIS-17 val, 480p
PRECISIONS = ("fp32", "bf16-dnet", "bf16", "fp16-dnet", "fp16")
DAVIS_SEQ = ROOT.parent / "shared" / "data" / "davis2016"


# ---------------------------------------------------------------------------------------- inputs
def load_frames(args):
    """(frames [N (H, W, 3) uint8 BGR at --size], masks [N (H, W) uint8 id maps or None], source)."""
    import cv2
    import numpy as np

    from uvmos.data.io import list_images, read_annotation_png, read_frame
    from uvmos.data.video_dict import DatasetFormatError

    H, W = args.size
    frame_dir, mask_dir = args.frames, args.masks
    if frame_dir is None:
        if (ROOT / ".gpu_frames").is_dir():
            frame_dir = str(ROOT / ".gpu_frames")
        elif (DAVIS_SEQ / "JPEGImages/480p/car-shadow").is_dir():
            frame_dir = str(DAVIS_SEQ / "JPEGImages/480p/car-shadow")
            mask_dir = mask_dir or str(DAVIS_SEQ / "Annotations/480p/car-shadow")
    if frame_dir is None:
        rng = np.random.default_rng(0)
        base = cv2.GaussianBlur(rng.integers(0, 256, (H, W, 3), dtype=np.uint8), (0, 0), 3)
        frames = [np.roll(base, 4 * t, axis=1) for t in range(args.frames_n)]
        return frames, [None] * args.frames_n, "seeded noise (no frames folder found)"
    files = list_images(frame_dir, (".jpg", ".jpeg"))
    if not files:
        raise SystemExit(f"error: --frames {frame_dir}: no .jpg/.jpeg frames in the folder")
    # fewer files than --frames-n: play the sequence back and forth (ping-pong)
    cycle = files + files[-2:0:-1] if len(files) > 1 else files
    picked = [cycle[t % len(cycle)] for t in range(args.frames_n)]
    frames, masks = [], []
    for f in picked:
        img = read_frame(f)
        frames.append(img if img.shape[:2] == (H, W) else cv2.resize(img, (W, H), interpolation=cv2.INTER_LINEAR))
        png = os.path.join(mask_dir or os.path.dirname(f), os.path.splitext(os.path.basename(f))[0] + ".png")
        m = None
        if os.path.isfile(png):
            try:
                m = read_annotation_png(png, kind="binary")
            except DatasetFormatError:
                m = read_annotation_png(png, kind="palette")
                m[m == 255] = 0  # void
            if m.shape != (H, W):
                m = cv2.resize(m, (W, H), interpolation=cv2.INTER_NEAREST)
        masks.append(m)
    n_masks = sum(m is not None for m in masks)
    return frames, masks, f"{frame_dir} ({len(files)} frames, {n_masks} of {len(picked)} used with masks)"


def controlled_proposals(masks, k, size, device):
    """K proposals per frame: the mask objects first, then moving ellipses (see module doc)."""
    import cv2
    import numpy as np
    from detectron2.structures import BitMasks, Instances

    H, W = size
    out, unions = [], []
    for t, m in enumerate(masks):
        objs = [] if m is None else [m == i for i in np.unique(m) if i != 0][:k]
        scores = [0.9] * len(objs)
        for j in range(k - len(objs)):
            e = np.zeros((H, W), np.uint8)
            cx = int(W * (0.15 + 0.7 * ((0.37 * (j + 1) + 0.01 * t) % 1.0)))
            cy = int(H * (0.25 + 0.5 * ((0.61 * (j + 1)) % 1.0)))
            cv2.ellipse(e, (cx, cy), (max(2, int(0.08 * W)), max(2, int(0.12 * H))), 15.0 * j, 0, 360, 1, -1)
            objs.append(e.astype(bool))
            scores.append(0.8)
        pm = torch.from_numpy(np.stack(objs) if objs else np.zeros((0, H, W), bool)).to(device)
        inst = Instances((H, W))
        inst.pred_masks = pm
        inst.scores = torch.tensor(scores, dtype=torch.float32, device=device)
        inst.pred_classes = torch.zeros(len(objs), dtype=torch.long, device=device)
        inst.pred_boxes = BitMasks(pm).get_bounding_boxes()
        out.append(inst)
        unions.append(pm.any(0, keepdim=True).float() if len(objs) else torch.zeros(1, H, W, device=device))
    return out, unions


# ---------------------------------------------------------------------------------------- model
def load_cfg(args):
    """The LazyConfig with the trailing overrides and ``--size``; a one-line error on a bad one."""
    from uvmos.utils.config import load_config

    H, W = args.size
    cfg = load_config(args.config_file, args.opts)
    prop = cfg.model.proposer
    if "test_size" in prop:
        prop.test_size = [H, W]
    return cfg


def build_model(cfg, args, device):
    """(VideoSegmenter on ``device`` in eval mode, weights description): ``cfg.model`` with the
    weights ``cfg.train.init_checkpoint`` (uvmos.engine.defaults.build_model)."""
    from uvmos.engine.defaults import build_model as build

    prop = cfg.model.proposer
    random = not cfg.train.get("init_checkpoint")
    capped = None
    if random and args.top_k and "post_processor" in prop and "top_k" in prop.post_processor:
        prop.post_processor.top_k = capped = args.top_k
    model = build(cfg, device=str(device), allow_random_weights=args.allow_random_weights)
    if random:
        weights = "RANDOM (timing only; batch-norm statistics set from frame 0; segmentations meaningless)"
        if capped:
            weights += f"; D-Net top_k capped at {capped}"
    else:
        weights = f"train.init_checkpoint {model.checkpoint}"
    return model, weights


# ---------------------------------------------------------------------------------------- report
def table(runs):
    rows = [
        "| precision | run | D-Net ms/frame | T-Net ms/frame | total ms/frame | FPS | peak GPU MiB (alloc/reserved) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        if "error" in r:
            err = r["error"] if r["error"].startswith("skipped") else "failed: " + r["error"].splitlines()[-1][:80]
            rows.append(f"| {r['precision']} | {r['run']} | {err} | | | | |")
            continue
        s = r["stats"]

        def cell(part, s=s):
            return f"{s[part]['mean_ms']:.1f} ({s[part]['mean_ms_after_first']:.1f})" if part in s else ""

        total = s.get("total", s.get("dnet", s.get("tnet", s.get("tnet_features"))))
        fps = f"{1000.0 / total['mean_ms']:.1f}" if r["run"] == "pipeline" else ""
        mem = r.get("peak_mem_mib")
        memc = f"{mem['allocated']:.0f} / {mem['reserved']:.0f}" if mem else "-"
        dn = cell("dnet")
        tn = cell("tnet") or (cell("tnet_features") + " (features only)" if "tnet_features" in s else "")
        rows.append(f"| {r['precision']} | {r['run']} | {dn} | {tn} | {cell('total')} | {fps} | {memc} |")
    rows.append(
        f"| paper (Table 5) | pipeline | {PAPER_MS['dnet']:.0f} | {PAPER_MS['tnet']:.0f} | "
        f"{PAPER_MS['total']:.0f} | {1000 / PAPER_MS['total']:.1f} | - |"
    )
    return "\n".join(rows) + "\n(ms: mean over all frames (mean over frames 1..))"


def default_output():
    return os.path.join(os.environ["OUT"], "gpu_bench.json") if os.environ.get("OUT") else "output/bench/gpu.json"


# ---------------------------------------------------------------------------------------- steps
def get_parser():
    from uvmos.engine.defaults import default_argument_parser

    p = default_argument_parser(__doc__, config_required=False)
    p.set_defaults(config_file="configs/uvmos/r50_paper.py")
    p.add_argument("--device", default="cuda")
    p.add_argument("--size", type=int, nargs=2, default=(480, 854), metavar=("H", "W"))
    p.add_argument("--frames", default=None, help="folder of NNNNN.jpg frames (+ optional NNNNN.png masks)")
    p.add_argument("--masks", default=None, help="folder of the masks, if not beside the frames")
    p.add_argument("--frames-n", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3, help="untimed pipeline frames per precision")
    p.add_argument("--objects", type=int, default=2, help="controlled proposals per frame")
    p.add_argument("--top-k", type=int, default=20, help="D-Net centre cap with random weights (0 = config's)")
    p.add_argument("--precisions", nargs="+", default=list(PRECISIONS), choices=PRECISIONS)
    p.add_argument("--no-cudnn-benchmark", action="store_true")
    p.add_argument(
        "--time-limit",
        type=float,
        default=240.0,
        help="skip a run when the elapsed s + the longest run so far would pass this",
    )
    p.add_argument("--output", default=None)
    return p


def parse_args(argv):
    """The arguments, checked before anything is loaded."""
    p = get_parser()
    args = p.parse_args(argv)
    if args.frames is not None and not os.path.isdir(args.frames):
        p.error(f"--frames {args.frames}: no such folder")
    if args.frames_n < 2 or args.warmup < 1 or args.warmup > args.frames_n:
        p.error("need --frames-n >= 2 and 1 <= --warmup <= --frames-n")
    return args


def setup_device(args):
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("error: --device cuda but torch sees no GPU")
        torch.backends.cudnn.benchmark = not args.no_cudnn_benchmark
    return device


def new_result(args, weights, source, device, model):
    """The JSON's header: what was measured, where, with which weights (the runs come later)."""
    return {
        "config": args.config_file,
        "opts": args.opts,
        "weights": weights,
        "size": list(args.size),
        "frames": source,
        "frames_n": args.frames_n,
        "warmup": args.warmup,
        "objects_per_frame": args.objects,
        "paper_table5_ms": PAPER_MS,
        "env": {
            "torch": torch.__version__,
            "python": platform.python_version(),
            "device": str(device),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else "none (CPU run)",
            "cuda": torch.version.cuda,
            "cudnn_benchmark": torch.backends.cudnn.benchmark,
            "cudnn_tf32": torch.backends.cudnn.allow_tf32,
            "matmul_tf32": torch.backends.cuda.matmul.allow_tf32,
            "threads": torch.get_num_threads(),
        },
        "params_millions": {
            "proposer": round(sum(p.numel() for p in model.proposer.parameters()) / 1e6, 2),
            "associator": round(sum(p.numel() for p in model.associator.parameters()) / 1e6, 2),
        },
        "runs": [],
    }


def run_precisions(args, model, frames, unions, proposals, record):
    """Per precision: the warm-up (not kept), then the runs of the module doc, each by ``record``."""
    device = record.device
    for precision in args.precisions:  # record() calls each function at once: the loop's values are bound
        amp = amp_context(device, precision)
        amp_all = contextlib.nullcontext if precision.endswith("-dnet") else amp
        n = args.warmup
        warm = record(
            precision,
            "warmup",
            lambda amp=amp, amp_all=amp_all, n=n: (run_pipeline(model, frames, proposals, amp_all, amp, n), {}),
        )
        if warm is None:
            continue
        record.result["runs"].pop()  # the warm-up is not a measurement
        cache = []
        record(precision, "dnet", lambda amp=amp, cache=cache: run_dnet(model, frames, unions, amp, cache))
        if len(cache) == len(frames):
            record(
                precision,
                "tnet",
                lambda cache=cache, amp_all=amp_all: run_tnet(model, frames, unions, proposals, cache, amp_all),
            )
            if precision == "fp32" and isinstance(getattr(model.associator, "features", None), torch.nn.Module):
                record(precision, "tnet_features", lambda cache=cache: run_tnet_features(model, frames, unions, cache))
        cache = None  # free the cached features before the pipeline run
        record(
            precision,
            "pipeline",
            lambda amp=amp, amp_all=amp_all: (run_pipeline(model, frames, proposals, amp_all, amp, len(frames)), {}),
        )


def report(result, weights, output, t_start):
    from uvmos.utils.file_io import atomic_write_json

    result["wall_s"] = round(time.time() - t_start, 1)
    result["table"] = table(result["runs"])
    atomic_write_json(output, result)
    print(f"\nWeights: {weights}\n")
    print(result["table"])
    print(f"\nsaved {output} ({result['wall_s']} s)", flush=True)
    return result


@torch.no_grad()
def main(argv=None):
    args = parse_args(argv)
    output = args.output or default_output()
    t_start = time.time()

    from detectron2.utils.logger import setup_logger

    import uvmos  # noqa: F401
    from uvmos.engine.checkpoint import CheckpointError
    from uvmos.utils.config import ConfigError, ToolExit

    try:  # a bad config, override or weights file: one line, before any frame is read
        cfg = load_cfg(args)
    except ConfigError as e:
        raise ToolExit(e) from None
    setup_logger(name="uvmos")
    device = setup_device(args)

    frames, masks, source = load_frames(args)
    proposals, unions = controlled_proposals(masks, args.objects, tuple(args.size), device)
    try:
        model, weights = build_model(cfg, args, device)
    except CheckpointError as e:
        raise ToolExit(e) from None
    print(f"[bench_gpu] weights: {weights}")
    result = new_result(args, weights, source, device, model)
    if weights.startswith("RANDOM"):
        result["norms_recalibrated"] = recalibrate_norms(
            model, lambda: calibration_pass(model, frames, unions, proposals)
        )
    print(
        f"[bench_gpu] {args.config_file} on {result['env']['gpu']}, {args.frames_n} frames "
        f"{args.size[0]}x{args.size[1]} from {source}; {args.objects} proposals/frame"
    )
    run_precisions(
        args, model, frames, unions, proposals, RunRecorder(result, output, device, args.time_limit, t_start)
    )
    return report(result, weights, output, t_start)


if __name__ == "__main__":
    main()
