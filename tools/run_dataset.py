#!/usr/bin/env python
"""Segment every video of a registered dataset, resumably, then evaluate (DAVIS J&F).

    python tools/run_dataset.py --config-file configs/uvmos/tiny_cpu.py --dataset uvmos_synth_val \
        --output output/uvmos_tiny_cpu/val [--task unsupervised] [--opts key=value ...]

Each video's DAVIS palette PNGs are written into a temporary folder and renamed when complete
(``OUTPUT/<video_id>/<frame>.png``, proven complete by ``OUTPUT/.manifests/<video_id>.json``);
rerunning skips the videos already done, so an interrupted run resumes where it stopped. The
config, weights and dataset are fingerprinted in ``OUTPUT/uvmos_run.json``: a rerun into the same
OUTPUT with other weights or settings is refused unless ``--overwrite``. The weights are
``train.init_checkpoint`` of the config (``configs/uvmos/tiny_cpu.py``: the embedded model; give
``--opts train.init_checkpoint=output/dnet_tiny_cpu/model_final.pth`` for one you trained); a model
that would run with random weights is refused unless ``--allow-random-weights``. Then, where the
dataset has ground truth, writes the official toolkit's two CSVs and ``OUTPUT/davis.json`` and
prints the figures.

``--ytvis-results FILE`` also keeps each video's tracks with their scores and categories and writes
them all to FILE in the YouTube-VIS results format (the evaluation server's ``results.json``;
categories mapped to the dataset's JSON ids), e.g. for ``ytvis_2019_val``, which has no public
ground truth (projects/YTVIS_Semantic).
"""
import argparse
import logging
import os


import torch
from detectron2.config import instantiate
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.utils.logger import setup_logger

import uvmos  # noqa: F401
from uvmos.data.build import check_dataset_name
from uvmos.data.video_dict import DatasetFormatError
from uvmos.engine.checkpoint import CheckpointError, load_inference_weights
from uvmos.engine.video_inference import collect_ytvis_results, run_fingerprint, run_on_dataset
from uvmos.evaluation.davis import evaluate_davis
from uvmos.utils.config import (
    ConfigError,
    ToolExit,
    check_device,
    check_output_dir,
    check_output_file,
    check_video_config,
    load_config,
)
from uvmos.utils.file_io import atomic_write_json


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", required=True)
    p.add_argument("--dataset", default=None, help="registered dataset (default: the config's dataloader.test)")
    p.add_argument("--output", required=True)
    p.add_argument("--task", default="unsupervised", choices=["unsupervised", "semi-supervised"])
    p.add_argument("--device", default=None)
    p.add_argument("--ytvis-results", default="", help="also write YouTube-VIS results.json here")
    p.add_argument("--overwrite", action="store_true", help="redo every video, replacing another run's results")
    p.add_argument("--allow-random-weights", action="store_true",
                   help="run even when (part of) the model has no trained weights")
    p.add_argument("--opts", default=[], nargs=argparse.REMAINDER, help="config overrides KEY=VALUE")
    args = p.parse_args(argv)
    setup_logger(name="uvmos")
    setup_logger(name="uvmos.engine")
    try:
        return _run(args)
    except (ConfigError, CheckpointError, DatasetFormatError) as e:
        raise ToolExit(e) from None


def _run(args):
    logger = logging.getLogger("uvmos")
    # every input problem is a one-line error here, before the model is built
    cfg = load_config(args.config_file, args.opts)
    check_video_config(cfg, args.config_file)
    check_device(args.device)
    dataset = args.dataset or cfg.dataloader.test.dataset_name
    check_dataset_name(dataset, "--dataset")
    meta = MetadataCatalog.get(dataset)
    out_abs = os.path.realpath(args.output)
    for key in ("root", "image_root"):
        src = getattr(meta, key, None) if key in meta.as_dict() else None
        if src and (out_abs + os.sep).startswith(os.path.realpath(src) + os.sep):
            raise ConfigError(f"--output {args.output}: lies inside the dataset's {key} {src}; results must not "
                              "be written among (or over) the ground truth")
    check_output_dir(args.output, "--output")
    if args.ytvis_results:
        check_output_file(args.ytvis_results, "--ytvis-results")
    videos = DatasetCatalog.get(dataset)
    if not videos:
        raise DatasetFormatError(None, f"dataset {dataset} has no videos")
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    model = instantiate(cfg.model).to(device).eval()
    ckpt = load_inference_weights(model, cfg.train.get("init_checkpoint"),
                                  allow_random=args.allow_random_weights)
    logger.info("weights: %s", ckpt or "none (random, --allow-random-weights)")
    fingerprint = run_fingerprint(cfg.model, ckpt, dataset)
    category_map = None
    if args.ytvis_results:
        meta = MetadataCatalog.get(dataset)
        if hasattr(meta, "thing_dataset_id_to_contiguous_id"):
            category_map = {v: k for k, v in meta.thing_dataset_id_to_contiguous_id.items()}
    with torch.no_grad():
        out_dirs = run_on_dataset(model, dataset, args.output, ytvis=bool(args.ytvis_results), category_map=category_map,
                                  fingerprint=fingerprint, overwrite=args.overwrite)
    if args.ytvis_results:
        tracks = collect_ytvis_results(out_dirs)
        atomic_write_json(args.ytvis_results, tracks)
        logger.info("YouTube-VIS results of %d videos (%d tracks) written to %s", len(out_dirs), len(tracks),
                    args.ytvis_results)
        if not tracks:
            logger.warning("no track in any video: %s is [] (every mask is background)", args.ytvis_results)
    if videos[0].get("annotations") is not None:
        from uvmos.data.io import read_id_maps

        results = {}
        for v in videos:
            d = out_dirs[v["video_id"]]
            results[v["video_id"]] = read_id_maps(d)
        if not any(m.any() for maps in results.values() for m in maps):
            logger.warning("no object was found in any frame: every result mask is background, so J&F is ~0")
        res = evaluate_davis(videos, results, task=args.task)
        res.write_csvs(args.output)
        res.write_json(os.path.join(args.output, "davis.json"))
        print(res.format_tables())
        return res.global_figures
    logger.info("%s has no ground truth: outputs written to %s, nothing evaluated", dataset, args.output)
    return None


if __name__ == "__main__":
    main()
