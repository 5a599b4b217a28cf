#!/usr/bin/env python
"""Table 4 on CPU: DAVIS J&F (unsupervised), IDF1 and ID switches of several video configs.

    python tools/table4_tnet.py --config-file configs/uvmos/tiny_cpu.py configs/baselines/greedy_tiny_cpu.py \
        configs/ablations/tnet_wo_verification.py configs/ablations/tnet_wo_memory_update.py \
        --dataset uvmos_synth_hard_test uvmos_synth_hard_test_seed1 uvmos_synth_hard_test_seed2 \
        --json output/table4_hard.json [KEY=VALUE ...]

Each config's ``model`` (a VideoSegmenter, its weights from ``train.init_checkpoint``; trailing
``KEY=VALUE`` overrides apply to every config, e.g. ``train.init_checkpoint=PATH``; a model that
would run with random weights is refused unless ``--allow-random-weights``) runs on every video of
each ``--dataset`` (default: the config's
``dataloader.test.dataset_name``); the id maps are scored in memory with
``uvmos.evaluation.davis.evaluate_davis`` (every object on the synthetic sets). With several
datasets the mean and std over them are printed too. ``--results DIR`` also writes DAVIS result
folders (``DIR/<config stem>/<dataset>/<video>/<frame>.png``).
"""

import json
import os
import time

import numpy as np
import torch


def get_parser():
    from uvmos.engine.defaults import default_argument_parser

    p = default_argument_parser(__doc__)
    # several configs, one row each (the overrides apply to every one)
    next(a for a in p._actions if a.dest == "config_file").nargs = "+"
    p.add_argument(
        "--dataset",
        nargs="+",
        default=None,
        help="one or more datasets (default: the config's test set); several (e.g. the 3 generator seeds "
        "of uvmos_synth_hard_test) also give the mean and std over them",
    )
    p.add_argument("--max-videos", type=int, default=None)
    p.add_argument(
        "--skip-videos", type=int, default=0, help="leave out the first N videos (a second slice of a train split)"
    )
    p.add_argument("--results", default=None, help="also write DAVIS result PNGs under this folder")
    p.add_argument("--json", default=None, help="write {config: global figures} here")
    p.add_argument("--per-object", action="store_true", help="also store each object's J&F in --json")
    p.add_argument("--threads", type=int, default=1)
    return p


def segment_video(model, v, results_dir=None):
    """The video's id maps (uint16), also written as DAVIS PNGs under ``results_dir`` if given."""
    from uvmos.data.folder import iter_frames
    from uvmos.data.io import write_palette_png

    maps = []
    for _, out in model.run_video((f for _, f in iter_frames(v)), v):
        maps.append(out.id_map.astype(np.uint16))
        if results_dir:
            stem_t = (
                os.path.splitext(os.path.basename(v["file_names"][out.frame_idx]))[0]
                if v.get("file_names")
                else f"{out.frame_idx:05d}"
            )
            write_palette_png(os.path.join(results_dir, v["video_id"], stem_t + ".png"), out.id_map)
    return maps


def evaluate_dataset(model, name, stem, args):
    """One config on one dataset: its global figures (+ s/frame and the associator's stats), printed."""
    from detectron2.data import DatasetCatalog

    from uvmos.evaluation.davis import evaluate_davis

    videos = DatasetCatalog.get(name)[args.skip_videos :][: args.max_videos]
    results_dir = os.path.join(args.results, stem, name) if args.results else None
    results, n, t0, stats = {}, 0, time.perf_counter(), {}
    for v in videos:
        maps = segment_video(model, v, results_dir)
        n += len(maps)
        results[v["video_id"]] = maps
        for k, val in getattr(model.associator, "stats", {}).items():
            stats[k] = stats.get(k, 0) + val
    r = evaluate_davis(videos, results, num_workers=1, dataset_name=name)
    g = dict(r.global_figures, s_per_frame=(time.perf_counter() - t0) / max(n, 1), stats=stats)
    if args.per_object:
        g["per_object"] = {k: (o["J"] + o["F"]) / 2 for k, o in r.per_object.items()}
    print(
        f"{stem:28s} {name:28s} J&F {g['J&F-Mean']:.3f}  J {g['J-Mean']:.3f}  F {g['F-Mean']:.3f}  "
        f"IDF1 {g.get('IDF1', float('nan')):.3f}  IDSW {g.get('IDSW', -1)}  "
        f"({g['s_per_frame']:.2f} s/frame, {len(videos)} videos) {stats}",
        flush=True,
    )
    for note in r.notes:
        print(f"  note: {note}")
    return g


def mean_std(stem, rows):
    """Mean and std of the main figures over several datasets (printed and returned)."""
    summary = {
        k: (float(np.mean([g[k] for g in rows.values()])), float(np.std([g[k] for g in rows.values()])))
        for k in ("J&F-Mean", "J-Mean", "F-Mean", "IDF1", "IDSW")
        if all(k in g for g in rows.values())
    }
    print(
        f"{stem:28s} {'mean +- std over ' + str(len(rows)):28s} "
        + "  ".join(f"{k.replace('-Mean', '')} {m:.3f} +- {sd:.3f}" for k, (m, sd) in summary.items()),
        flush=True,
    )
    return summary


def main(argv=None):
    parser = get_parser()
    args = parser.parse_args(argv)
    if args.skip_videos < 0:
        parser.error(f"--skip-videos must be >= 0, got {args.skip_videos}")
    torch.set_num_threads(args.threads)

    import uvmos  # noqa: F401
    from uvmos.engine.defaults import build_model
    from uvmos.utils.config import load_config

    table = {}
    for path in args.config_file:
        cfg = load_config(path, args.opts)
        # a proposer-only checkpoint is accepted; no weights at all (random) is refused
        model = build_model(cfg, device="cpu", allow_random_weights=args.allow_random_weights)
        stem = os.path.splitext(os.path.basename(path))[0]
        names = args.dataset or [cfg.dataloader.test.dataset_name]
        rows = {name: evaluate_dataset(model, name, stem, args) for name in names}
        table[path] = rows
        if len(rows) > 1:
            table[path]["mean_std"] = mean_std(stem, rows)
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            json.dump(table, f, indent=1)
        os.replace(args.json + ".tmp", args.json)


if __name__ == "__main__":
    main()
