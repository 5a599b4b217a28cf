#!/usr/bin/env python
"""Segment every video of a registered dataset, resumably, then evaluate (DAVIS J&F).

    python tools/run_dataset.py --config-file configs/uvmos/tiny_cpu.py --dataset uvmos_synth_val \
        --output output/uvmos_tiny_cpu/val [--task unsupervised] [--num-processes N] [KEY=VALUE ...]

Each video's DAVIS palette PNGs are written into a temporary folder and renamed when complete
(``OUTPUT/<video_id>/<frame>.png``, proven complete by ``OUTPUT/.manifests/<video_id>.json``);
rerunning skips the videos already done, so an interrupted run resumes where it stopped. The
config, weights and dataset are fingerprinted in ``OUTPUT/uvmos_run.json``: a rerun into the same
OUTPUT with other weights or settings is refused unless ``--overwrite``. The weights are
``train.init_checkpoint`` of the config (``configs/uvmos/tiny_cpu.py``: the embedded model; give
``train.init_checkpoint=output/dnet_tiny_cpu/model_final.pth`` for one you trained); a model
that would run with random weights is refused unless ``--allow-random-weights``. Then, where the
dataset has ground truth, writes the official toolkit's two CSVs and ``OUTPUT/davis.json`` and
prints the figures.

``--ytvis-results FILE`` also keeps each video's tracks with their scores and categories and writes
them all to FILE in the YouTube-VIS results format (the evaluation server's ``results.json``;
categories mapped to the dataset's JSON ids), e.g. for ``ytvis_2019_val``, which has no public
ground truth (projects/YTVIS_Semantic).

Scale out: ``--num-processes N`` runs N processes on this machine, and ``--num-machines M
--machine-rank R --dist-url tcp://HOST:PORT`` joins M machines (detectron2's ``launch``; GLOO on
CPU, NCCL on GPUs). Videos are sharded over all processes, resume works as above, and rank 0
evaluates once every video is written. Every input problem is reported before any process starts.
Progress: tqdm bars over the videos and each video's frames (frames per second, ETA).
"""

import logging
import os

import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.engine import launch
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger

import uvmos  # noqa: F401
from uvmos.data.build import check_dataset_name
from uvmos.data.video_dict import DatasetFormatError
from uvmos.engine.checkpoint import CheckpointError
from uvmos.engine.defaults import build_model, default_argument_parser, pick_device
from uvmos.engine.video_inference import collect_ytvis_results, prepare_output, run_fingerprint, run_on_dataset
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


def parse_args(argv=None):
    p = default_argument_parser(__doc__)
    p.add_argument("--dataset", default=None, help="registered dataset (default: the config's dataloader.test)")
    p.add_argument("--output", required=True)
    p.add_argument("--task", default="unsupervised", choices=["unsupervised", "semi-supervised"])
    p.add_argument("--device", default=None)
    p.add_argument("--ytvis-results", default="", help="also write YouTube-VIS results.json here")
    p.add_argument("--overwrite", action="store_true", help="redo every video, replacing another run's results")
    p.add_argument("--num-processes", type=int, default=1, help="processes on this machine (videos are sharded)")
    p.add_argument("--num-machines", type=int, default=1)
    p.add_argument("--machine-rank", type=int, default=0, help="this machine's rank (0 .. num-machines - 1)")
    p.add_argument("--dist-url", default="auto", help="tcp://HOST:PORT of machine 0 (auto: one machine)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    setup_logger(name="uvmos")
    setup_logger(name="uvmos.engine")
    try:
        cfg, dataset, videos, model = _prepare(args)
    except (ConfigError, CheckpointError, DatasetFormatError) as e:
        raise ToolExit(e) from None
    if args.num_processes * args.num_machines == 1:
        return _run(args, dataset, videos, model.to(pick_device(args.device)))
    del model
    if args.num_processes < 1 or args.num_machines < 1:
        raise ToolExit(f"--num-processes {args.num_processes} / --num-machines {args.num_machines}: must be >= 1")
    launch(
        _worker,
        args.num_processes,
        num_machines=args.num_machines,
        machine_rank=args.machine_rank,
        dist_url=args.dist_url,
        args=(args,),
    )
    return None


def _worker(args):
    """One process of a multi-process run (after ``launch``): its share of the videos."""
    setup_logger(name="uvmos", distributed_rank=comm.get_rank())
    setup_logger(name="uvmos.engine", distributed_rank=comm.get_rank())
    local = comm.get_local_size()
    if not torch.cuda.is_available():  # share the machine's cores between its processes
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(local, 1)))
    cfg = load_config(args.config_file, args.opts)
    dataset = args.dataset or cfg.dataloader.test.dataset_name
    model = build_model(cfg, device=args.device, allow_random_weights=args.allow_random_weights)
    _run(args, dataset, DatasetCatalog.get(dataset), model)


def _prepare(args):
    """Every input check, before a model runs or a process starts; prepares the output folder."""
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
            raise ConfigError(
                f"--output {args.output}: lies inside the dataset's {key} {src}; results must not "
                "be written among (or over) the ground truth"
            )
    check_output_dir(args.output, "--output")
    if args.ytvis_results:
        check_output_file(args.ytvis_results, "--ytvis-results")
    videos = DatasetCatalog.get(dataset)
    if not videos:
        raise DatasetFormatError(None, f"dataset {dataset} has no videos")
    model = build_model(cfg, device="cpu", allow_random_weights=args.allow_random_weights)
    logging.getLogger("uvmos").info("weights: %s", model.checkpoint or "none (random, --allow-random-weights)")
    prepare_output(args.output, dataset, run_fingerprint(cfg.model, model.checkpoint, dataset), args.overwrite)
    return cfg, dataset, videos, model


def _run(args, dataset, videos, model):
    logger = logging.getLogger("uvmos")
    category_map = None
    if args.ytvis_results:
        meta = MetadataCatalog.get(dataset)
        if hasattr(meta, "thing_dataset_id_to_contiguous_id"):
            category_map = {v: k for k, v in meta.thing_dataset_id_to_contiguous_id.items()}
    with torch.no_grad():
        out_dirs = run_on_dataset(
            model, dataset, args.output, ytvis=bool(args.ytvis_results), category_map=category_map
        )
    if not comm.is_main_process():
        return None
    if args.ytvis_results:
        tracks = collect_ytvis_results(out_dirs)
        atomic_write_json(args.ytvis_results, tracks)
        logger.info(
            "YouTube-VIS results of %d videos (%d tracks) written to %s", len(out_dirs), len(tracks), args.ytvis_results
        )
        if not tracks:
            logger.warning("no track in any video: %s is [] (every mask is background)", args.ytvis_results)
    if videos[0].get("annotations") is not None:
        from uvmos.data.io import read_id_maps

        results = {v["video_id"]: read_id_maps(out_dirs[v["video_id"]]) for v in videos}
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
