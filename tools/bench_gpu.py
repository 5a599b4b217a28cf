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
import sys
import time
import traceback
from pathlib import Path

import torch

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
    cfg.model.test_size = [H, W]
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


def recalibrate_norms(model, run_one_frame) -> int:
    """Random weights only: set each batch norm's running mean/var to its input's statistics during
    ``run_one_frame()`` (forward pre-hooks, so every layer sees already-calibrated inputs)."""
    from detectron2.layers import FrozenBatchNorm2d

    def pre(mod, inputs):
        x = inputs[0]
        if x.dim() != 4 or x.shape[0] * x.shape[2] * x.shape[3] < 2:
            return  # 1x1 pooled branches: no spatial statistics
        xf = x.detach().float().transpose(0, 1).flatten(1)
        mod.running_mean.copy_(xf.mean(1))
        mod.running_var.copy_(xf.var(1).clamp(min=1e-4))

    norms = [
        m
        for m in model.modules()
        if isinstance(m, (torch.nn.modules.batchnorm._BatchNorm, FrozenBatchNorm2d))
        and getattr(m, "running_mean", None) is not None
    ]
    hooks = [m.register_forward_pre_hook(pre) for m in norms]
    try:
        run_one_frame()
    finally:
        for h in hooks:
            h.remove()
    return len(norms)


# ---------------------------------------------------------------------------------------- runs
def amp_context(device, precision):

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision.split("-")[0])
    if dtype is None:
        return contextlib.nullcontext
    return lambda: torch.autocast(device_type=device.type, dtype=dtype)


class ControlledProposer(torch.nn.Module):
    """Wraps the real proposer (its time is the ``proposal`` part) and hands the associator the
    controlled proposals of the frame instead of the proposer's instances."""

    def __init__(self, proposer, proposals, amp):
        super().__init__()
        self.inner = proposer
        self.test_size = getattr(proposer, "test_size", None)
        self.proposals = proposals
        self.amp = amp

    def forward(self, batched_inputs):
        with self.amp():
            outs = self.inner(batched_inputs)
        res = []
        for x, o in zip(batched_inputs, outs):
            o = dict(o, instances=self.proposals[int(x["frame_idx"])])
            if "features" in o:  # half features from an autocast proposer: fp32 for the associator
                o["features"] = {k: v.float() for k, v in o["features"].items()}
            res.append(o)
        return res


def frame_input(frames, masks_t, t, device, prev_image):
    import numpy as np

    f = frames[t]
    image = torch.from_numpy(np.ascontiguousarray(f.transpose(2, 0, 1))).to(device)
    inp = {"image": image, "height": f.shape[0], "width": f.shape[1], "video_id": "bench", "frame_idx": t}
    if prev_image is not None:
        inp["prev_image"] = prev_image
        inp["prev_mask"] = masks_t[t - 1]
    return inp


def run_pipeline(model, frames, proposals, amp_all, amp_dnet, n):
    from uvmos.evaluation.timing import PartTimer

    inner = model.proposer
    timer = PartTimer()
    model.proposer = ControlledProposer(inner, proposals, amp_dnet)
    model.timer = timer
    per_frame = []
    try:
        with amp_all():
            seen, fs = {}, 0.0
            for _ in model.run_video(iter(frames[:n]), {"video_id": "bench"}):
                rec = {k: v - seen.get(k, 0.0) for k, v in timer.seconds.items()}
                rec["frame"] = timer.frame_seconds - fs
                seen, fs = dict(timer.seconds), timer.frame_seconds
                per_frame.append(rec)
    finally:
        model.proposer, model.timer = inner, None
    return [{"dnet": r.get("proposal", 0.0), "tnet": r.get("association", 0.0), "total": r["frame"]} for r in per_frame]


def run_dnet(model, frames, unions, amp_dnet, cache):

    from uvmos.evaluation.timing import PartTimer

    timer, per_frame, prev, n_props, nonfinite = PartTimer(), [], None, [], 0
    device = model.device
    for t in range(len(frames)):
        inp = frame_input(frames, unions, t, device, prev)
        before = timer.seconds.get("dnet", 0.0)
        with timer.part("dnet"), amp_dnet():
            out = model.proposer([inp])[0]
        per_frame.append({"dnet": timer.seconds["dnet"] - before})
        n_props.append(len(out["instances"]))
        fg = out.get("foreground")
        if fg is not None and not bool(torch.isfinite(fg).all()):
            nonfinite += 1
        if cache is not None:
            cache.append(
                {
                    k: ({n: f.float().cpu() for n, f in v.items()} if k == "features" else v.float().cpu())
                    for k, v in out.items()
                    if k in ("features", "foreground")
                }
            )
        prev = inp["image"]
    return per_frame, {"proposals_per_frame": sum(n_props) / max(len(n_props), 1), "nonfinite_frames": nonfinite}


def run_tnet(model, frames, unions, proposals, cache, amp_all):
    from uvmos.evaluation.timing import PartTimer

    timer, per_frame, prev, ntracks = PartTimer(), [], None, []
    device = model.device
    assoc = model.associator
    with amp_all():
        assoc.reset({"video_id": "bench"})
        for t in range(len(frames)):
            inp = frame_input(frames, unions, t, device, prev)
            props = {"instances": proposals[t]}
            for k, v in cache[t].items():
                props[k] = {n: f.to(device) for n, f in v.items()} if k == "features" else v.to(device)
            before = timer.seconds.get("tnet", 0.0)
            with timer.part("tnet"):
                res = assoc.step(inp, props)
            per_frame.append({"tnet": timer.seconds["tnet"] - before})
            ntracks.append(len(res.get("track_scores", {})))
            prev = inp["image"]
    return per_frame, {"visible_tracks_per_frame": sum(ntracks) / max(len(ntracks), 1)}


def run_tnet_features(model, frames, unions, cache):
    from uvmos.evaluation.timing import PartTimer

    feats = getattr(model.associator, "features", None)
    timer, per_frame, device = PartTimer(), [], model.device
    for t in range(len(frames)):
        inp = frame_input(frames, unions, t, device, None)
        props = {
            k: ({n: f.to(device) for n, f in v.items()} if k == "features" else v.to(device))
            for k, v in cache[t].items()
        }
        before = timer.seconds.get("tnet_features", 0.0)
        with timer.part("tnet_features"):
            feats(inp, props)
        per_frame.append({"tnet_features": timer.seconds["tnet_features"] - before})
    return per_frame, {"features": type(feats).__name__}


def calibration_pass(model, frames, unions, proposals):
    """Frame 0 through the whole pipeline (fp32); if that fails, through D-Net and T-Net's
    feature module, so the runs that can work still get calibrated weights."""
    try:
        run_pipeline(model, frames, proposals, contextlib.nullcontext, contextlib.nullcontext, 1)
    except Exception:
        print(f"[bench_gpu] calibration through the pipeline failed:\n{traceback.format_exc(limit=6)}", file=sys.stderr)
        cache = []
        run_dnet(model, frames[:1], unions, contextlib.nullcontext, cache)
        if isinstance(getattr(model.associator, "features", None), torch.nn.Module):
            run_tnet_features(model, frames[:1], unions, cache)


def stats(per_frame):
    """ms/frame per part: mean over all frames, mean over frames 1.., median, p90, frame 0."""
    import numpy as np

    out = {}
    for part in per_frame[0]:
        ms = np.array([1000.0 * r[part] for r in per_frame])
        rest = ms[1:] if len(ms) > 1 else ms
        out[part] = {
            "mean_ms": round(float(ms.mean()), 2),
            "mean_ms_after_first": round(float(rest.mean()), 2),
            "median_ms": round(float(np.median(ms)), 2),
            "p90_ms": round(float(np.percentile(ms, 90)), 2),
            "first_frame_ms": round(float(ms[0]), 2),
        }
    return out


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


@torch.no_grad()
def main(argv=None):
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
    args = p.parse_args(argv)
    if args.frames is not None and not os.path.isdir(args.frames):
        p.error(f"--frames {args.frames}: no such folder")
    if args.frames_n < 2 or args.warmup < 1 or args.warmup > args.frames_n:
        p.error("need --frames-n >= 2 and 1 <= --warmup <= --frames-n")
    output = args.output or default_output()
    t_start = time.time()

    from detectron2.utils.logger import setup_logger

    import uvmos  # noqa: F401
    from uvmos.engine.checkpoint import CheckpointError
    from uvmos.utils.config import ConfigError, ToolExit
    from uvmos.utils.file_io import atomic_write_json

    try:  # a bad config, override or weights file: one line, before any frame is read
        cfg = load_cfg(args)
    except ConfigError as e:
        raise ToolExit(e) from None
    setup_logger(name="uvmos")
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("error: --device cuda but torch sees no GPU")
        torch.backends.cudnn.benchmark = not args.no_cudnn_benchmark

    frames, masks, source = load_frames(args)
    proposals, unions = controlled_proposals(masks, args.objects, tuple(args.size), device)
    try:
        model, weights = build_model(cfg, args, device)
    except CheckpointError as e:
        raise ToolExit(e) from None
    print(f"[bench_gpu] weights: {weights}")
    result = {
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
    if weights.startswith("RANDOM"):
        result["norms_recalibrated"] = recalibrate_norms(
            model, lambda: calibration_pass(model, frames, unions, proposals)
        )
    print(
        f"[bench_gpu] {args.config_file} on {result['env']['gpu']}, {args.frames_n} frames "
        f"{args.size[0]}x{args.size[1]} from {source}; {args.objects} proposals/frame"
    )

    longest = [0.0]  # the longest run so far: a run that would likely end past --time-limit is skipped

    def record(precision, name, fn):
        if time.time() - t_start + longest[0] > args.time_limit:
            result["runs"].append({"precision": precision, "run": name, "error": "skipped: --time-limit"})
            atomic_write_json(output, result)
            print(f"[bench_gpu] {precision}/{name} skipped (--time-limit {args.time_limit:.0f} s)")
            return None
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        entry = {"precision": precision, "run": name}
        t0 = time.time()
        try:
            per_frame, extra = fn()
            entry.update(stats=stats(per_frame), **extra)
            if device.type == "cuda":
                entry["peak_mem_mib"] = {
                    "allocated": torch.cuda.max_memory_allocated(device) / 2**20,
                    "reserved": torch.cuda.max_memory_reserved(device) / 2**20,
                }
        except Exception:
            entry["error"] = traceback.format_exc(limit=6)
            print(f"[bench_gpu] {precision}/{name} FAILED:\n{entry['error']}", file=sys.stderr)
            per_frame = None
        entry["wall_s"] = round(time.time() - t0, 2)
        longest[0] = max(longest[0], entry["wall_s"])
        result["runs"].append(entry)
        atomic_write_json(output, result)
        if "stats" in entry:
            print(
                f"[bench_gpu] {precision:>9s} {name:<13s} "
                + ", ".join(
                    f"{k} {v['mean_ms']:.1f} ms ({v['mean_ms_after_first']:.1f} after frame 0)"
                    for k, v in entry["stats"].items()
                )
            )
        return per_frame

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
        result["runs"].pop()  # the warm-up is not a measurement
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

    result["wall_s"] = round(time.time() - t_start, 1)
    result["table"] = table(result["runs"])
    atomic_write_json(output, result)
    print(f"\nWeights: {weights}\n")
    print(result["table"])
    print(f"\nsaved {output} ({result['wall_s']} s)", flush=True)
    return result


if __name__ == "__main__":
    main()
