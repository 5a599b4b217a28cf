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
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmark_report import cmd_plot, markdown_table


def peak_rss_mb() -> float:
    """Peak resident set size of this process (MB; Linux ``ru_maxrss`` is in KB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _build_model(args):
    import torch

    from uvmos.engine.checkpoint import CheckpointError
    from uvmos.engine.defaults import build_model
    from uvmos.utils.config import ConfigError, ToolExit, load_config

    if args.threads:
        torch.set_num_threads(args.threads)
    try:  # random weights are refused unless asked for (a speed-only run of an untrained baseline)
        cfg = load_config(args.config_file, args.opts)
        return build_model(cfg, device="cpu", allow_random_weights=args.allow_random_weights)
    except (ConfigError, CheckpointError) as e:
        raise ToolExit(e) from None


def _videos(args) -> list:
    """The dataset's videos to measure: ``--video-ids`` (if given), then the first ``--videos``."""
    from detectron2.data import DatasetCatalog

    videos = DatasetCatalog.get(args.dataset)
    if getattr(args, "video_ids", None):
        unknown = set(args.video_ids) - {v["video_id"] for v in videos}
        if unknown:
            raise SystemExit(f"error: dataset {args.dataset} has no videos {sorted(unknown)}")
        videos = [v for v in videos if v["video_id"] in set(args.video_ids)]
    return videos[: args.videos or None]


def _max_tracks(out_dirs: dict, names: list) -> int:
    """The most tracks present in one frame of the written id maps."""
    import numpy as np

    from uvmos.data.io import read_id_map

    return max(
        (
            len(set(np.unique(read_id_map(os.path.join(out_dirs[v], f))).tolist()) - {0})
            for v in names
            for f in os.listdir(out_dirs[v])
            if f.endswith(".png")
        ),
        default=0,
    )


def _run_record(args, timer, names: list, live: int, rss: float) -> dict:
    import cv2
    import torch

    per_part, fps = timer.summary()
    return {
        "name": args.name or Path(args.config_file).stem,
        "config": args.config_file,
        "opts": args.opts,
        "dataset": args.dataset,
        "videos": len(names),
        "frames": timer.num_frames,
        "threads": torch.get_num_threads(),
        "cv2_threads": cv2.getNumThreads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS", ""),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
        "background_load": int(getattr(args, "background_load", 0)),
        "max_tracks_in_a_frame": int(live),
        "peak_rss_mb": round(rss, 1),
        "sec_per_frame": {k: round(v, 5) for k, v in per_part.items()},
        "total_sec_per_frame": round(timer.total_seconds() / max(timer.num_frames, 1), 5),
        "fps": round(fps, 3),
    }


def _davis(videos: list, names: list, out_dirs: dict) -> dict:
    """DAVIS unsupervised J&F of the written id maps (global and per object)."""
    from uvmos.data.io import read_id_maps
    from uvmos.evaluation.davis import evaluate_davis

    results = {v: read_id_maps(out_dirs[v]) for v in names}
    res = evaluate_davis(videos, results, task="unsupervised", num_workers=1)
    return {
        "davis": {k: round(float(x), 4) for k, x in res.global_figures.items()},
        "davis_per_object": {k: {m: round(float(o[m]), 4) for m in ("J", "F")} for k, o in res.per_object.items()},
    }


def _report_run(args, timer, result: dict) -> None:
    print(timer.format())
    print(
        f"threads: torch {result['threads']}, OpenCV {result['cv2_threads']}, OMP_NUM_THREADS="
        f"{result['omp_num_threads'] or '(unset)'}, OMP_WAIT_POLICY="
        f"{result['omp_wait_policy'] or '(unset)'}; peak RSS {result['peak_rss_mb']:.0f} MB; "
        f"at most {result['max_tracks_in_a_frame']} tracks in a frame"
    )
    if "davis" in result:
        print("DAVIS unsupervised: " + ", ".join(f"{k} {v:.3f}" for k, v in result["davis"].items()))
    if args.json:
        from uvmos.utils.file_io import atomic_write_json

        atomic_write_json(args.json, result)
        print(f"saved {args.json}")


# a second job for ``--background-load``: dense float32 matrix products, as CPU-bound as a model's
# convolutions, on the same number of torch threads as the measured run
_LOAD_SRC = """
import sys, torch
torch.set_num_threads(int(sys.argv[1]))
a = torch.randn(512, 512)
while True:
    a = torch.tanh(a @ a)
"""


@contextlib.contextmanager
def background_load(num_jobs: int, threads: int):
    """Run ``num_jobs`` CPU-bound processes (``_LOAD_SRC``, ``threads`` torch threads each) while
    the body runs, so a measurement also shows how each part degrades on a shared machine. The jobs
    run with OpenMP's default settings whatever this process's (``OMP_WAIT_POLICY``, ``OMP_*`` and
    ``GOMP_*`` are removed from their environment), so the load is the same job in every run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_", "KMP_"))}
    procs = [
        subprocess.Popen([sys.executable, "-c", _LOAD_SRC, str(max(threads, 1))], stdout=subprocess.DEVNULL, env=env)
        for _ in range(num_jobs)
    ]
    try:
        if procs:
            time.sleep(1.0)  # let them start before the clock does
        yield procs
    finally:
        for p in procs:
            p.kill()
            p.wait()


def cmd_run(args) -> dict:
    import torch

    import uvmos  # noqa: F401
    from uvmos.engine.video_inference import run_on_dataset
    from uvmos.evaluation.timing import PartTimer

    model = _build_model(args)
    videos = _videos(args)
    names = [v["video_id"] for v in videos]
    timer = PartTimer()
    if hasattr(model.proposer, "timer"):  # proposers that time their own parts (flow, motion, ...)
        model.proposer.timer = timer
    load = background_load(getattr(args, "background_load", 0), args.threads or torch.get_num_threads())
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad(), load:
        if args.warmup:  # warm-up on the first video's first frames, not timed
            from uvmos.data.folder import iter_frames

            frames = (f for t, f in iter_frames(videos[0]) if t < args.warmup)
            for _ in model.run_video(frames, videos[0]):
                pass
        out_dirs = run_on_dataset(model, args.dataset, tmp, videos=names, timer=timer)
        rss = peak_rss_mb()  # before the evaluation reads the results back
        result = _run_record(args, timer, names, _max_tracks(out_dirs, names), rss)
        if videos and videos[0].get("annotations") is not None:
            result.update(_davis(videos, names, out_dirs))
    _report_run(args, timer, result)
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


def _measure_row(args, row: dict, kind: str, dataset: str, video_ids) -> dict:
    """One table row: frame AP of the proposer, or ``cmd_run``'s figures; "not_measured" (with the
    reason) when its checkpoint is missing or it cannot run."""
    from uvmos.engine.defaults import build_model
    from uvmos.evaluation.frame_ap import evaluate_proposer
    from uvmos.utils.config import load_config

    res = {"name": row["name"], "config": row["config"], "dataset": dataset}
    res["command"] = _row_command(args.table, row, args.dataset)
    cfg = load_config(row["config"], row.get("opts", []), check_files=False)
    missing = [p for p in _checkpoints(cfg) if not os.path.isfile(p)]
    if missing:
        res["not_measured"] = f"missing checkpoint {', '.join(missing)}"
        print(f"[{row['name']}] not measured: {res['not_measured']}", flush=True)
    elif kind == "frame_ap":
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
    return res


def _save_table(args, kind: str, results: list, md: str) -> None:
    from uvmos.utils.file_io import atomic_write_json

    if args.json:
        atomic_write_json(args.json, {"table": args.table, "kind": kind, "rows": results})
    if args.markdown:
        d = os.path.dirname(os.path.abspath(args.markdown))
        os.makedirs(d, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=d, prefix=".tmp-", suffix=".md", delete=False) as f:
            f.write(md + "\n")
        os.replace(f.name, args.markdown)


def cmd_table(args) -> list:
    import uvmos  # noqa: F401

    spec = TABLES[args.table]
    kind, dataset = spec["kind"], args.dataset or spec["dataset"]
    video_ids = spec.get("video_ids") if not args.dataset else None
    rows = [r for r in spec["rows"] if not args.rows or r["name"] in args.rows]
    unknown = set(args.rows or []) - {r["name"] for r in spec["rows"]}
    if unknown:
        names = [r["name"] for r in spec["rows"]]
        raise SystemExit(f"error: table {args.table} has no rows {sorted(unknown)}; rows: {names}")
    results = [_measure_row(args, row, kind, dataset, video_ids) for row in rows]
    md = markdown_table(kind, results)
    print(md)
    _save_table(args, kind, results, md)
    return results


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
    r.add_argument(
        "--background-load",
        type=int,
        default=0,
        help="run N CPU-bound jobs (matrix products on --threads threads each) while measuring",
    )
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
