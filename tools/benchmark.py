#!/usr/bin/env python
"""Runtime breakdown (paper Table 5) and the speed/accuracy figure (paper Fig. 3), from measured runs.

Measure one config on a registered dataset (per-part seconds per frame, FPS and, where the dataset
has ground truth, DAVIS unsupervised J&F), and save the measurement as JSON:

    python tools/benchmark.py run --config-file configs/uvmos/tiny_cpu.py --dataset uvmos_synth_val \
        [--videos 3] [--name "uvmos tiny"] [--json output/bench/tiny.json] [--opts key=value ...]

Draw the speed/accuracy trade-off of several measured runs:

    python tools/benchmark.py plot output/bench/*.json --out docs/images/speed_accuracy.png

Parts: ``proposal`` (the proposer; D-Net's foreground estimation is inside it, as in Table 5),
``foreground`` (a separate foreground model, if a config has one) and ``association``. A proposer
with a ``timer`` attribute (e.g. ``MotionProposer``) gets the same timer and reports its own parts
nested inside ``proposal`` (``flow``, ``motion``, ``appearance``). The JSON also records the
threads (torch, OpenCV, OMP_NUM_THREADS), the peak RSS of the process and the most tracks present
in one frame.
"""
import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def peak_rss_mb() -> float:
    """Peak resident set size of this process (MB; Linux ``ru_maxrss`` is in KB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cmd_run(args) -> dict:
    import cv2
    import numpy as np
    import torch
    from detectron2.checkpoint import DetectionCheckpointer
    from detectron2.config import LazyConfig, instantiate
    from detectron2.data import DatasetCatalog

    import uvmos  # noqa: F401
    from uvmos.engine.video_inference import run_on_dataset
    from uvmos.evaluation.davis import evaluate_davis, read_id_map, read_id_maps
    from uvmos.evaluation.timing import PartTimer

    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = LazyConfig.apply_overrides(LazyConfig.load(args.config_file), args.opts)
    model = instantiate(cfg.model).eval()
    if cfg.train.get("init_checkpoint"):
        DetectionCheckpointer(model).load(cfg.train.init_checkpoint)
    videos = DatasetCatalog.get(args.dataset)[: args.videos or None]
    names = [v["video_id"] for v in videos]
    timer = PartTimer()
    if hasattr(model.proposer, "timer"):  # proposers that time their own parts (flow, motion, ...)
        model.proposer.timer = timer
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        if args.warmup:  # warm-up on the first video's first frames, not timed
            from uvmos.data.folder import iter_frames

            first = videos[0]
            frames = (f for t, f in iter_frames(first) if t < args.warmup)
            for _ in model.run_video(frames, first):
                pass
        out_dirs = run_on_dataset(model, args.dataset, tmp, videos=names, timer=timer)
        per_part, fps = timer.summary()
        rss = peak_rss_mb()  # before the evaluation reads the results back
        live = max((len(set(np.unique(read_id_map(os.path.join(out_dirs[v], f))).tolist()) - {0})
                    for v in names for f in os.listdir(out_dirs[v]) if f.endswith(".png")), default=0)
        result = {
            "name": args.name or Path(args.config_file).stem,
            "config": args.config_file,
            "opts": args.opts,
            "dataset": args.dataset,
            "videos": len(names),
            "frames": timer.num_frames,
            "threads": torch.get_num_threads(),
            "cv2_threads": cv2.getNumThreads(),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS", ""),
            "max_tracks_in_a_frame": int(live),
            "peak_rss_mb": round(rss, 1),
            "sec_per_frame": {k: round(v, 5) for k, v in per_part.items()},
            "total_sec_per_frame": round(timer.total_seconds() / max(timer.num_frames, 1), 5),
            "fps": round(fps, 3),
        }
        if videos and videos[0].get("annotations") is not None:
            results = {v: read_id_maps(out_dirs[v]) for v in names}
            res = evaluate_davis(videos, results, task="unsupervised", num_workers=1)
            result["davis"] = {k: round(float(x), 4) for k, x in res.global_figures.items()}
            result["davis_per_object"] = {
                k: {m: round(float(o[m]), 4) for m in ("J", "F")} for k, o in res.per_object.items()
            }
    print(timer.format())
    print(f"threads: torch {result['threads']}, OpenCV {result['cv2_threads']}, OMP_NUM_THREADS="
          f"{result['omp_num_threads'] or '(unset)'}; peak RSS {result['peak_rss_mb']:.0f} MB; "
          f"at most {result['max_tracks_in_a_frame']} tracks in a frame")
    if "davis" in result:
        print("DAVIS unsupervised: " + ", ".join(f"{k} {v:.3f}" for k, v in result["davis"].items()))
    if args.json:
        from uvmos.engine.writers import atomic_write_json

        atomic_write_json(args.json, result)
        print(f"saved {args.json}")
    return result


def cmd_plot(args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = []
    for p in args.runs:
        with open(p) as f:
            r = json.load(f)
        if "davis" not in r:
            raise SystemExit(f"error: {p}: run has no J&F (benchmark a dataset with ground truth)")
        runs.append(r)
    fig, ax = plt.subplots(figsize=(6, 4.2))
    for r in runs:
        x, y = r["fps"], 100 * r["davis"]["J&F-Mean"]
        ax.scatter([x], [y], s=60)
        ax.annotate(r["name"], (x, y), textcoords="offset points", xytext=(6, 4), fontsize=9)
    ax.set_xscale("log")
    ax.set_xlabel(f"frames per second (log; CPU, {runs[0].get('threads', '?')} thread(s))")
    ax.set_ylabel("J&F mean (%)")
    ax.set_title(f"Speed / accuracy on {runs[0]['dataset']} (measured)")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    from uvmos.engine.writers import atomic_save_figure

    atomic_save_figure(args.out, fig, dpi=120)
    print(f"saved {args.out}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run", help="measure one config")
    r.add_argument("--config-file", required=True)
    r.add_argument("--dataset", default="uvmos_synth_val")
    r.add_argument("--videos", type=int, default=0, help="first N videos only (0 = all)")
    r.add_argument("--warmup", type=int, default=2, help="untimed warm-up frames")
    r.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    r.add_argument("--name", default="")
    r.add_argument("--json", default="")
    r.add_argument("--opts", default=[], nargs=argparse.REMAINDER)
    pl = sub.add_parser("plot", help="speed/accuracy figure from run JSONs")
    pl.add_argument("runs", nargs="+")
    pl.add_argument("--out", default="docs/images/speed_accuracy.png")
    args = p.parse_args(argv)
    if args.cmd == "run":
        from detectron2.utils.logger import setup_logger

        setup_logger(name="uvmos")
        if not os.path.isfile(args.config_file):
            p.error(f"--config-file {args.config_file}: no such file")
        return cmd_run(args)
    return cmd_plot(args)


if __name__ == "__main__":
    main()
