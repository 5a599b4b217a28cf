#!/usr/bin/env python
"""Per-frame instance AP (paper Table 3) of a proposer config, with a choice of SGM guidance.

    python tools/eval_frame_ap.py --config-file configs/dnet/tiny_cpu.py \
        --weights output/dnet_tiny_cpu/model_final.pth --dataset uvmos_synth_val \
        --guidance own gt empty [--max-videos 5] [--json out.json] [--opts model.test_size=[192,342]]

``own`` is the protocol of Table 3 (frame t guided by the proposer's own foreground on t-1, as
``tools/train_net.py --eval-only`` evaluates); ``gt`` feeds the ground-truth S_{t-1} and ``empty``
an all-zero mask. The gap own -> gt is what better guidance could give; own vs empty says whether
the SGM's own guidance helps or propagates its errors (docs/model_zoo.md, Table 3).
"""
import argparse
import os



def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", required=True)
    p.add_argument("--weights", default="", help="checkpoint (default: the config's train.init_checkpoint)")
    p.add_argument("--dataset", default=None, help="registered video dataset (default: the config's test set)")
    p.add_argument("--guidance", nargs="+", default=["own"], choices=["own", "gt", "empty"])
    p.add_argument("--max-videos", type=int, default=None)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default="", help="also write the results here")
    p.add_argument("--opts", default=[], nargs=argparse.REMAINDER, help="config overrides (key=value)")
    args = p.parse_args(argv)

    import torch
    from uvmos.engine.checkpoint import AtomicCheckpointer as DetectionCheckpointer
    from detectron2.config import instantiate

    import uvmos  # noqa: F401
    from uvmos.utils.config import load_config
    from uvmos.utils.file_io import atomic_write_json
    from uvmos.evaluation.frame_ap import evaluate_proposer

    if not os.path.isfile(args.config_file):
        raise SystemExit(f"error: {args.config_file}: no such config file")
    torch.set_num_threads(args.threads)
    cfg = load_config(args.config_file, args.opts)
    dataset = args.dataset or cfg.dataloader.test.dataset_name
    weights = args.weights or cfg.train.get("init_checkpoint", "")
    if weights and not os.path.isfile(weights):
        raise SystemExit(f"error: {weights}: no such checkpoint")
    model = instantiate(cfg.model)
    if weights:
        DetectionCheckpointer(model).load(weights)
    results = {}
    for g in args.guidance:
        res = evaluate_proposer(model, dataset, max_videos=args.max_videos, guidance=g)["frame_ap"]
        results[g] = dict(res)
        print(f"guidance={g:5s} " + "  ".join(f"{k} {v:.1f}" for k, v in res.items()), flush=True)
    if args.json:
        atomic_write_json(args.json, {"config": args.config_file, "weights": weights, "dataset": dataset,
                                      "frame_ap": results})
    return results


if __name__ == "__main__":
    main()
