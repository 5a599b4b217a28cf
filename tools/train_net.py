#!/usr/bin/env python
"""Train or evaluate a uvmos model from a LazyConfig (detectron2's lazyconfig_train_net.py style).

    python tools/train_net.py --config-file configs/dnet/tiny_cpu.py [--num-gpus N | --num-processes N]
    python tools/train_net.py --config-file ... --resume            # continue from the last checkpoint
    python tools/train_net.py --config-file ... --eval-only train.init_checkpoint=PATH
    python tools/train_net.py --config-file ... train.max_iter=100 train.output_dir=output/x   # overrides

The config provides ``model``, ``dataloader.train``, ``optimizer``, ``lr_multiplier``, ``train`` and,
for evaluation, ``dataloader.test`` + ``dataloader.evaluator`` (``inference_on_dataset`` protocol).
Several processes run through detectron2's ``launch`` (NCCL on GPU, GLOO on CPU).
"""

import logging
import os

import torch
from detectron2.config import instantiate
from detectron2.engine import (
    AMPTrainer,
    SimpleTrainer,
    default_argument_parser,
    default_setup,
    default_writers,
    hooks,
    launch,
)
from detectron2.engine.defaults import create_ddp_model
from detectron2.evaluation import inference_on_dataset, print_csv_format
from detectron2.utils import comm
from detectron2.utils.logger import setup_logger

import uvmos  # noqa: F401
from uvmos.engine.checkpoint import AtomicCheckpointer, AtomicJSONWriter, CheckpointError, load_inference_weights
from uvmos.engine.hooks import CPUTimeHook
from uvmos.utils.config import ConfigError, ToolExit, check_output_dir, load_config

logger = logging.getLogger("uvmos")


def ddp(model, **kwargs):
    """detectron2's create_ddp_model, with ``device_ids=None`` for CPU (GLOO) processes."""
    if comm.get_world_size() > 1 and next(model.parameters()).device.type == "cpu":
        kwargs["device_ids"] = None
    return create_ddp_model(model, **kwargs)


def do_test(cfg, model):
    if "evaluator" not in cfg.dataloader or "test" not in cfg.dataloader:
        logger.warning("config has no dataloader.test/evaluator: nothing to evaluate")
        return {}
    ret = inference_on_dataset(model, instantiate(cfg.dataloader.test), instantiate(cfg.dataloader.evaluator))
    if comm.is_main_process() and ret:
        print_csv_format(ret)  # detectron2 omits keys with "-" (e.g. "J&F-Mean"): log them all too
        for task, res in ret.items():
            if isinstance(res, dict):
                logger.info("%s: %s", task, ", ".join(f"{k} {v:.4f}" for k, v in res.items()))
    return ret


def writers(output_dir, max_iter):
    """detectron2's default writers, with metrics.json rewritten atomically (AtomicJSONWriter)."""
    from detectron2.utils.events import JSONWriter

    return [
        AtomicJSONWriter(os.path.join(output_dir, "metrics.json")) if isinstance(w, JSONWriter) else w
        for w in default_writers(output_dir, max_iter)
    ]


def do_train(args, cfg):
    model = instantiate(cfg.model)
    model.to(cfg.train.device)
    logger.info("Model:\n%s", model)

    cfg.optimizer.params.model = model
    optim = instantiate(cfg.optimizer)
    train_loader = instantiate(cfg.dataloader.train)

    model = ddp(model, **cfg.train.ddp)
    trainer = (AMPTrainer if cfg.train.amp.enabled else SimpleTrainer)(model, train_loader, optim)
    checkpointer = AtomicCheckpointer(model, cfg.train.output_dir, trainer=trainer)
    eval_period = cfg.train.eval_period if "evaluator" in cfg.dataloader else 0
    trainer.register_hooks(
        [
            hooks.IterationTimer(),
            hooks.LRScheduler(scheduler=instantiate(cfg.lr_multiplier)),
            hooks.PeriodicCheckpointer(checkpointer, **cfg.train.checkpointer) if comm.is_main_process() else None,
            hooks.EvalHook(eval_period, lambda: do_test(cfg, model)) if eval_period else None,
            CPUTimeHook(period=cfg.train.log_period),  # after EvalHook: the final figure counts the last evaluation
            hooks.PeriodicWriter(writers(cfg.train.output_dir, cfg.train.max_iter), period=cfg.train.log_period)
            if comm.is_main_process()
            else None,
        ]
    )
    checkpointer.resume_or_load(cfg.train.init_checkpoint, resume=args.resume)
    start_iter = trainer.iter + 1 if args.resume and checkpointer.has_checkpoint() else 0
    if start_iter >= cfg.train.max_iter:
        if (
            args.resume
            and comm.is_main_process()
            and not os.path.isfile(os.path.join(cfg.train.output_dir, "model_final.pth"))
        ):
            checkpointer.save("model_final")  # e.g. it was corrupt and the last periodic one was resumed
        logger.info("Already trained for %d iterations; nothing to do", cfg.train.max_iter)
        return
    trainer.train(start_iter, cfg.train.max_iter)


def main(args):
    cfg = load_config(args.config_file, args.opts)
    if not torch.cuda.is_available() and cfg.train.get("device", "cpu").startswith("cuda"):
        cfg.train.device = "cpu"
    default_setup(cfg, args)
    setup_logger(cfg.train.output_dir, distributed_rank=comm.get_rank(), name="uvmos")
    if args.eval_only:
        model = instantiate(cfg.model)
        model.to(cfg.train.device)
        load_inference_weights(model, cfg.train.init_checkpoint, allow_random=args.allow_random_weights)
        model = ddp(model)
        return do_test(cfg, model)
    do_train(args, cfg)


def parse_args(argv=None):
    parser = default_argument_parser()
    parser.add_argument(
        "--num-processes",
        type=int,
        default=0,
        help="number of CPU processes (GLOO) when there is no GPU; overrides --num-gpus on CPU",
    )
    parser.add_argument(
        "--allow-random-weights",
        action="store_true",
        help="--eval-only: evaluate even when (part of) the model has no trained weights",
    )
    args = parser.parse_args(argv)
    try:  # every config problem is a one-line error here, before any process or model starts
        cfg = load_config(args.config_file, args.opts)
        check_output_dir(cfg.train.output_dir, "train.output_dir")
        if not args.eval_only:
            missing = [k for k in ("model", "optimizer", "lr_multiplier") if k not in cfg]
            missing += [] if "train" in cfg.get("dataloader", {}) else ["dataloader.train"]
            missing += [] if "max_iter" in cfg.train else ["train.max_iter"]
            if missing:
                raise ConfigError(
                    f"--config-file {args.config_file}: has no {', '.join(missing)}, so it cannot be "
                    "trained (a video config is evaluated with --eval-only)"
                )
            if int(cfg.train.max_iter) < 1:
                raise ConfigError(f"train.max_iter={cfg.train.max_iter}: must be at least 1")
        if args.num_gpus > 1 and not torch.cuda.is_available() and not args.num_processes:
            raise ConfigError(
                f"--num-gpus {args.num_gpus}: no CUDA device here; use --num-processes N for CPU processes"
            )
        if args.eval_only and not cfg.train.get("init_checkpoint") and not args.allow_random_weights:
            raise ConfigError(
                "--eval-only without train.init_checkpoint=PATH would evaluate a model with random weights; "
                "give a checkpoint or pass --allow-random-weights"
            )
    except ConfigError as e:
        parser.exit(2, f"error: {e}\n")
    return args


def cli(argv=None):
    args = parse_args(argv)
    try:
        _launch(args)
    except (CheckpointError, ConfigError) as e:
        raise ToolExit(e) from None


def _launch(args):
    num = args.num_gpus
    if args.num_processes:
        num = args.num_processes
        if torch.cuda.is_available():
            logger.warning("--num-processes with CUDA available: using GPUs")
    # detectron2's launch spawns `num` workers; on CPU it falls back to GLOO.
    launch(
        main, num, num_machines=args.num_machines, machine_rank=args.machine_rank, dist_url=args.dist_url, args=(args,)
    )


if __name__ == "__main__":
    cli()
