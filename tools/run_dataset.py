#!/usr/bin/env python
"""Segment every video of a registered dataset, resumably, then evaluate (DAVIS J&F).

    python tools/run_dataset.py --config-file configs/uvmos/tiny_cpu.py --dataset uvmos_synth_val \
        --output output/uvmos_tiny_cpu/val [--task unsupervised] [--opts key=value ...]

Each video's DAVIS palette PNGs are written into a temporary folder and renamed when complete
(``OUTPUT/<video_id>/<frame>.png``); rerunning skips the videos already done, so an interrupted run
resumes where it stopped. Then, where the dataset has ground truth, writes the official toolkit's
two CSVs and ``OUTPUT/davis.json`` and prints the figures.

``--ytvis-results FILE`` also keeps each video's tracks with their scores and categories and writes
them all to FILE in the YouTube-VIS results format (the evaluation server's ``results.json``;
categories mapped to the dataset's JSON ids), e.g. for ``ytvis_2019_valid``, which has no public
ground truth (projects/YTVIS_Semantic).
"""
import argparse
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from detectron2.checkpoint import DetectionCheckpointer  # noqa: E402
from detectron2.config import LazyConfig, instantiate  # noqa: E402
from detectron2.data import DatasetCatalog, MetadataCatalog  # noqa: E402
from detectron2.utils.logger import setup_logger  # noqa: E402

import uvmos  # noqa: F401,E402
from uvmos.engine.video_inference import collect_ytvis_results, run_on_dataset  # noqa: E402
from uvmos.engine.writers import atomic_write_json  # noqa: E402
from uvmos.evaluation.davis import evaluate_davis  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", required=True)
    p.add_argument("--dataset", default=None, help="registered dataset (default: the config's dataloader.test)")
    p.add_argument("--output", required=True)
    p.add_argument("--task", default="unsupervised", choices=["unsupervised", "semi-supervised"])
    p.add_argument("--device", default=None)
    p.add_argument("--ytvis-results", default="", help="also write YouTube-VIS results.json here")
    p.add_argument("--opts", default=[], nargs=argparse.REMAINDER)
    args = p.parse_args(argv)
    setup_logger(name="uvmos")
    setup_logger(name="uvmos.engine")
    logger = logging.getLogger("uvmos")
    if not os.path.isfile(args.config_file):
        p.error(f"--config-file {args.config_file}: no such file")
    cfg = LazyConfig.apply_overrides(LazyConfig.load(args.config_file), args.opts)
    dataset = args.dataset or cfg.dataloader.test.dataset_name
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = instantiate(cfg.model).to(device).eval()
    if cfg.train.get("init_checkpoint"):
        DetectionCheckpointer(model).load(cfg.train.init_checkpoint)
    category_map = None
    if args.ytvis_results:
        meta = MetadataCatalog.get(dataset)
        if hasattr(meta, "thing_dataset_id_to_contiguous_id"):
            category_map = {v: k for k, v in meta.thing_dataset_id_to_contiguous_id.items()}
    with torch.no_grad():
        out_dirs = run_on_dataset(model, dataset, args.output, ytvis=bool(args.ytvis_results), category_map=category_map)
    if args.ytvis_results:
        atomic_write_json(args.ytvis_results, collect_ytvis_results(out_dirs))
        logger.info("YouTube-VIS results of %d videos written to %s", len(out_dirs), args.ytvis_results)
    videos = DatasetCatalog.get(dataset)
    if videos and videos[0].get("annotations") is not None:
        from uvmos.evaluation.davis import read_id_maps

        results = {}
        for v in videos:
            d = out_dirs[v["video_id"]]
            results[v["video_id"]] = read_id_maps(d)
        res = evaluate_davis(videos, results, task=args.task)
        res.write_csvs(args.output)
        res.write_json(os.path.join(args.output, "davis.json"))
        print(res.format_tables())
        return res.global_figures
    logger.info("%s has no ground truth: outputs written to %s, nothing evaluated", dataset, args.output)
    return None


if __name__ == "__main__":
    main()
