#!/usr/bin/env python
"""Per-frame instance AP (paper Table 3) of a proposer config, with a choice of SGM guidance.

    python tools/eval_frame_ap.py --config-file configs/dnet/tiny_cpu.py --dataset uvmos_synth_val \
        --guidance own gt empty [--max-videos 5] [--json out.json] \
        train.init_checkpoint=output/dnet_tiny_cpu/model_final.pth [model.test_size=[192,342]]

The weights are ``train.init_checkpoint`` (a trailing override, or the config's own); a model that
would run with random weights is refused unless ``--allow-random-weights``. ``own`` is the protocol
of Table 3 (frame t guided by the proposer's own foreground on t-1, as
``tools/train_net.py --eval-only`` evaluates); ``gt`` feeds the ground-truth S_{t-1} and ``empty``
an all-zero mask. The gap own -> gt is what better guidance could give; own vs empty says whether
the SGM's own guidance helps or propagates its errors (docs/model_zoo.md, Table 3).
"""


def main(argv=None):
    from uvmos.engine.defaults import default_argument_parser

    p = default_argument_parser(__doc__)
    p.add_argument("--dataset", default=None, help="registered video dataset (default: the config's test set)")
    p.add_argument("--guidance", nargs="+", default=["own"], choices=["own", "gt", "empty"])
    p.add_argument("--max-videos", type=int, default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default="", help="also write the results here")
    args = p.parse_args(argv)

    import torch

    import uvmos  # noqa: F401
    from uvmos.engine.checkpoint import CheckpointError
    from uvmos.engine.defaults import build_model
    from uvmos.evaluation.frame_ap import evaluate_proposer
    from uvmos.utils.config import ConfigError, ToolExit, load_config
    from uvmos.utils.file_io import atomic_write_json

    torch.set_num_threads(args.threads)
    try:
        cfg = load_config(args.config_file, args.opts)
        dataset = args.dataset or cfg.dataloader.test.dataset_name
        model = build_model(cfg, device="cpu", allow_random_weights=args.allow_random_weights)
    except (ConfigError, CheckpointError) as e:
        raise ToolExit(e) from None
    results = {}
    for g in args.guidance:
        res = evaluate_proposer(model, dataset, max_videos=args.max_videos, guidance=g)["frame_ap"]
        results[g] = dict(res)
        print(f"guidance={g:5s} " + "  ".join(f"{k} {v:.1f}" for k, v in res.items()), flush=True)
    if args.json:
        atomic_write_json(
            args.json,
            {"config": args.config_file, "weights": model.checkpoint, "dataset": dataset, "frame_ap": results},
        )
    return results


if __name__ == "__main__":
    main()
