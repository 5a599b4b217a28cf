#!/usr/bin/env python
"""Runtime breakdown (paper Table 5) and the speed/accuracy figure (paper Fig. 3), from measured runs.

Measure one config on a registered dataset (per-part seconds per frame, FPS and, where the dataset
has ground truth, DAVIS unsupervised J&F), and save the measurement as JSON:

    python tools/benchmark.py run --config-file configs/uvmos/tiny_cpu.py --dataset uvmos_synth_val \
        [--videos 3] [--name "uvmos tiny"] [--json output/bench/tiny.json] [KEY=VALUE ...]

Trailing ``KEY=VALUE`` pairs override the config; the weights are its ``train.init_checkpoint``
(e.g. ``train.init_checkpoint=output/dnet_tiny_cpu/model_final.pth``), and a model that would run
with random weights is refused unless ``--allow-random-weights`` (a speed-only run).

Draw the speed/accuracy trade-off of several measured runs:

    python tools/benchmark.py plot output/bench/*.json --out docs/images/speed_accuracy.png

Parts: ``proposal`` (the proposer; D-Net's foreground estimation is inside it, as in Table 5),
``foreground`` (a separate foreground model, if a config has one) and ``association``. A proposer
with a ``timer`` attribute (e.g. ``MotionProposer``) gets the same timer and reports its own parts
nested inside ``proposal`` (``flow``, ``motion``, ``appearance``). The JSON also records the
threads (torch, OpenCV, OMP_NUM_THREADS), the peak RSS of the process and the most tracks present
in one frame.

The paper's comparison tables, one command each (rows and their configs in ``TABLES`` below;
docs/model_zoo.md shows the results and each row's own command):

    python tools/benchmark.py table 3 [--rows "Mask R-CNN" ...] [--json J] [--markdown M]  # frame AP
    python tools/benchmark.py table 1      # J&F of proposer + associator pairs (Tables 1 and 4)
    python tools/benchmark.py table 5      # s/frame per part on real 854x480 DAVIS-2016 frames

A row whose checkpoint is missing is reported as not measured, with the missing path.
"""

import argparse
import json
import os
import tempfile
from pathlib import Path


def peak_rss_mb() -> float:
    """Peak resident set size of this process (MB; Linux ``ru_maxrss`` is in KB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cmd_run(args) -> dict:
    import cv2
    import numpy as np
    import torch
    from detectron2.data import DatasetCatalog

    import uvmos  # noqa: F401
    from uvmos.data.io import read_id_map, read_id_maps
    from uvmos.engine.checkpoint import CheckpointError
    from uvmos.engine.defaults import build_model
    from uvmos.engine.video_inference import run_on_dataset
    from uvmos.evaluation.davis import evaluate_davis
    from uvmos.evaluation.timing import PartTimer
    from uvmos.utils.config import ConfigError, ToolExit, load_config

    if args.threads:
        torch.set_num_threads(args.threads)
    try:  # random weights are refused unless asked for (a speed-only run of an untrained baseline)
        cfg = load_config(args.config_file, args.opts)
        model = build_model(cfg, device="cpu", allow_random_weights=args.allow_random_weights)
    except (ConfigError, CheckpointError) as e:
        raise ToolExit(e) from None
    videos = DatasetCatalog.get(args.dataset)
    if getattr(args, "video_ids", None):
        unknown = set(args.video_ids) - {v["video_id"] for v in videos}
        if unknown:
            raise SystemExit(f"error: dataset {args.dataset} has no videos {sorted(unknown)}")
        videos = [v for v in videos if v["video_id"] in set(args.video_ids)]
    videos = videos[: args.videos or None]
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
        live = max(
            (
                len(set(np.unique(read_id_map(os.path.join(out_dirs[v], f))).tolist()) - {0})
                for v in names
                for f in os.listdir(out_dirs[v])
                if f.endswith(".png")
            ),
            default=0,
        )
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
    print(
        f"threads: torch {result['threads']}, OpenCV {result['cv2_threads']}, OMP_NUM_THREADS="
        f"{result['omp_num_threads'] or '(unset)'}; peak RSS {result['peak_rss_mb']:.0f} MB; "
        f"at most {result['max_tracks_in_a_frame']} tracks in a frame"
    )
    if "davis" in result:
        print("DAVIS unsupervised: " + ", ".join(f"{k} {v:.3f}" for k, v in result["davis"].items()))
    if args.json:
        from uvmos.utils.file_io import atomic_write_json

        atomic_write_json(args.json, result)
        print(f"saved {args.json}")
    return result


# ------------------------------------------------------------------------------------------------
# Paper tables
# ------------------------------------------------------------------------------------------------
_TEST = "uvmos_synth_test"
_JF_ROWS = [
    dict(name="D-Net + T-Net", config="configs/uvmos/tiny_cpu.py"),
    dict(name="D-Net + greedy IoU", config="configs/baselines/greedy_tiny_cpu.py"),
    dict(name="D-Net + UnOVOST-style", config="projects/UnOVOST/configs/dnet_unovost_tiny.py"),
    dict(name="Mask R-CNN + T-Net", config="projects/MaskRCNN/configs/maskrcnn_tnet_tiny.py"),
    dict(name="Mask R-CNN + UnOVOST-style", config="projects/UnOVOST/configs/maskrcnn_unovost_tiny.py"),
    dict(name="SOLOv2 + T-Net", config="projects/SOLO/configs/solo_tnet_tiny.py"),
]
TABLES = {
    # Table 3: class-agnostic per-frame mask AP of each proposer alone (tools/eval_frame_ap.py)
    "3": dict(
        kind="frame_ap",
        dataset=_TEST,
        rows=[
            dict(name="D-Net", config="configs/uvmos/tiny_cpu.py", part="proposer"),
            dict(
                name="D-Net w/o SGM",
                config="configs/dnet/dnet_wo_sgm.py",
                opts=["train.init_checkpoint=output/dnet_tiny_cpu_wo_sgm/model_final.pth"],
            ),
            dict(name="Mask R-CNN", config="projects/MaskRCNN/configs/maskrcnn_proposer_tiny.py"),
            dict(name="SOLOv2", config="projects/SOLO/configs/solo_proposer_tiny.py"),
        ],
    ),
    # Tables 1 and 4: DAVIS unsupervised J&F of the whole video pipeline
    "1": dict(kind="jf", dataset=_TEST, rows=_JF_ROWS),
    # Table 5: seconds per frame of each part on real 854x480 frames, one video, one run per row
    "5": dict(kind="speed", dataset="davis2016_shared_val", video_ids=["car-shadow"], rows=_JF_ROWS),
}
TABLES["4"] = TABLES["1"]


def _checkpoints(cfg):
    """Every local checkpoint path ``train.init_checkpoint`` names (a path or {submodule: path})."""
    spec = cfg.train.get("init_checkpoint", "") or ""
    paths = list(spec.values()) if hasattr(spec, "values") else [spec]
    return [p for p in paths if p and "://" not in str(p)]


def _row_command(table: str, row: dict, dataset_override: str = "") -> str:
    """The command that measures one row alone (the tool it runs is eval_frame_ap's
    ``evaluate_proposer`` for frame AP, ``benchmark.py run`` for J&F and speed)."""
    ds = f" --dataset {dataset_override}" if dataset_override else ""
    name = row["name"]
    return f'python tools/benchmark.py table {table} --rows "{name}"{ds}'


def cmd_table(args) -> list:
    import uvmos  # noqa: F401
    from uvmos.engine.defaults import build_model
    from uvmos.evaluation.frame_ap import evaluate_proposer
    from uvmos.utils.config import load_config
    from uvmos.utils.file_io import atomic_write_json

    spec = TABLES[args.table]
    kind, dataset = spec["kind"], args.dataset or spec["dataset"]
    video_ids = spec.get("video_ids") if not args.dataset else None
    rows = [r for r in spec["rows"] if not args.rows or r["name"] in args.rows]
    unknown = set(args.rows or []) - {r["name"] for r in spec["rows"]}
    if unknown:
        names = [r["name"] for r in spec["rows"]]
        raise SystemExit(f"error: table {args.table} has no rows {sorted(unknown)}; rows: {names}")
    results = []
    for row in rows:
        res = {
            "name": row["name"],
            "config": row["config"],
            "dataset": dataset,
            "command": _row_command(args.table, row, args.dataset),
        }
        cfg = load_config(row["config"], row.get("opts", []), check_files=False)
        missing = [p for p in _checkpoints(cfg) if not os.path.isfile(p)]
        if missing:
            res["not_measured"] = f"missing checkpoint {', '.join(missing)}"
            print(f"[{row['name']}] not measured: {res['not_measured']}", flush=True)
            results.append(res)
            continue
        if kind == "frame_ap":
            model = build_model(cfg, device="cpu")
            for attr in filter(None, row.get("part", "").split(".")):
                model = getattr(model, attr)
            res["frame_ap"] = dict(evaluate_proposer(model, dataset)["frame_ap"])
            print(f"[{row['name']}] " + "  ".join(f"{k} {v:.1f}" for k, v in res["frame_ap"].items()), flush=True)
        else:
            run_args = argparse.Namespace(
                config_file=row["config"],
                dataset=dataset,
                videos=0,
                video_ids=video_ids,
                warmup=args.warmup,
                threads=args.threads,
                name=row["name"],
                json="",
                opts=list(row.get("opts", [])),
                allow_random_weights=False,
            )
            try:
                res.update(cmd_run(run_args))
            except SystemExit as e:  # a row that cannot run (e.g. random weights) does not stop the table
                res["not_measured"] = str(e)
                print(f"[{row['name']}] not measured: {e}", flush=True)
        results.append(res)
    md = _markdown(kind, results)
    print(md)
    if args.json:
        atomic_write_json(args.json, {"table": args.table, "kind": kind, "rows": results})
    if args.markdown:
        d = os.path.dirname(os.path.abspath(args.markdown))
        os.makedirs(d, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=d, prefix=".tmp-", suffix=".md", delete=False) as f:
            f.write(md + "\n")
        os.replace(f.name, args.markdown)
    return results


def _markdown(kind: str, results: list) -> str:
    if kind == "frame_ap":
        head, keys = ["AP", "AP50", "AP75"], lambda r: [f"{r['frame_ap'][k]:.1f}" for k in ("AP", "AP50", "AP75")]
    elif kind == "jf":
        head = ["J&F", "J", "F", "s/frame"]
        keys = lambda r: (
            [f"{r['davis'][k]:.3f}" for k in ("J&F-Mean", "J-Mean", "F-Mean")] + [f"{r['total_sec_per_frame']:.3f}"]
        )
    else:
        parts = ["proposal", "foreground", "association"]
        head = [f"{p} s/frame" for p in parts] + ["total s/frame", "FPS"]
        keys = lambda r: (
            [f"{r['sec_per_frame'][p]:.3f}" if p in r["sec_per_frame"] else "—" for p in parts]
            + [f"{r['total_sec_per_frame']:.3f}", f"{r['fps']:.2f}"]
        )
    lines = ["| model | " + " | ".join(head) + " | command |", "|---" * (len(head) + 2) + "|"]
    for r in results:
        cells = keys(r) if "not_measured" not in r else [f"not measured: {r['not_measured']}"] + [""] * (len(head) - 1)
        lines.append(f"| {r['name']} | " + " | ".join(cells) + f" | `{r['command']}` |")
    return "\n".join(lines)


def _plot_runs(paths):
    """The runs of run JSONs and of table JSONs (their measured rows) that have a J&F."""
    runs = []
    for p in paths:
        with open(p) as f:
            data = json.load(f)
        rows = data["rows"] if isinstance(data, dict) and "rows" in data else [data]
        for r in rows:
            if "davis" in r:
                runs.append(r)
            elif "not_measured" not in r:
                raise SystemExit(
                    f"error: {p}: run {r.get('name', '?')!r} has no J&F (benchmark a dataset with ground truth)"
                )
    if not runs:
        raise SystemExit(f"error: no run with a J&F in {', '.join(paths)}")
    return runs


def cmd_plot(args) -> None:
    """Fig. 3: J&F against frames per second, one point per pipeline. ``--speed-from`` takes the
    speed of each row from another table (e.g. Table 5 on real 854x480 frames) by row name."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = _plot_runs(args.runs)
    speed, where = {}, f"{runs[0]['dataset']} frames"
    if args.speed_from:
        with open(args.speed_from) as f:
            rows = json.load(f)["rows"]
        speed = {r["name"]: 1.0 / r["total_sec_per_frame"] for r in rows if r.get("total_sec_per_frame")}
        where = f"{rows[0].get('dataset', '?')} frames"
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for r in runs:
        x, y = speed.get(r["name"], None if args.speed_from else r["fps"]), 100 * r["davis"]["J&F-Mean"]
        if x is None:
            print(f"[plot] {r['name']}: no speed in {args.speed_from}, left out")
            continue
        ax.scatter([x], [y], s=60)
        ax.annotate(r["name"], (x, y), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.margins(x=0.15)
    ax.set_xlabel(f"frames per second on {where} (log; CPU, {runs[0].get('threads', '?')} thread(s))")
    ax.set_ylabel(f"J&F mean (%) on {runs[0]['dataset']}")
    ax.set_title(args.title or "Speed / accuracy (measured)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    from uvmos.utils.file_io import atomic_save_figure

    atomic_save_figure(args.out, fig, dpi=120)
    print(f"saved {args.out}")


def main(argv=None):
    from uvmos.engine.defaults import OverridesArgumentParser, add_default_arguments

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=OverridesArgumentParser)
    # run: --config-file, --allow-random-weights and the trailing KEY=VALUE overrides, as every tool
    r = add_default_arguments(sub.add_parser("run", help="measure one config"))
    r.add_argument("--dataset", default="uvmos_synth_val")
    r.add_argument("--videos", type=int, default=0, help="first N videos only (0 = all)")
    r.add_argument("--video-ids", nargs="+", default=None, help="only these videos")
    r.add_argument("--warmup", type=int, default=2, help="untimed warm-up frames")
    r.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    r.add_argument("--name", default="")
    r.add_argument("--json", default="")
    pl = sub.add_parser("plot", help="speed/accuracy figure (Fig. 3) from run or table JSONs")
    pl.add_argument("runs", nargs="+", help="run JSONs (benchmark.py run --json) or table JSONs (table --json)")
    pl.add_argument("--speed-from", default="", help="a table JSON (e.g. Table 5) giving each row's speed")
    pl.add_argument("--title", default="")
    pl.add_argument("--out", default="docs/images/speed_accuracy.png")
    t = sub.add_parser("table", help="a paper table (3: frame AP, 1/4: J&F, 5: s/frame per part), one run")
    t.add_argument("table", choices=sorted(TABLES))
    t.add_argument("--rows", nargs="+", default=None, help="only these rows (by name)")
    t.add_argument("--dataset", default="", help="override the table's dataset")
    t.add_argument("--warmup", type=int, default=2, help="untimed warm-up frames (J&F / speed tables)")
    t.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as the CPU budgets)")
    t.add_argument("--json", default="")
    t.add_argument("--markdown", default="", help="also write the markdown table here")
    args = p.parse_args(argv)
    if args.cmd == "table":
        import torch
        from detectron2.utils.logger import setup_logger

        setup_logger(name="uvmos")
        torch.set_num_threads(args.threads)
        return cmd_table(args)
    if args.cmd == "run":
        from detectron2.utils.logger import setup_logger

        setup_logger(name="uvmos")
        return cmd_run(args)
    return cmd_plot(args)


if __name__ == "__main__":
    main()
