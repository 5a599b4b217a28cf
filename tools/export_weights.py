#!/usr/bin/env python
"""Export a trained checkpoint as a compact weights file for a config's whole model.

    python tools/export_weights.py --config-file configs/uvmos/tiny_cpu.py \
        --checkpoint output/dnet_tiny_cpu/model_final.pth --out uvmos/model_zoo/uvmos_tiny_cpu.pth [--half]

Loads ``--checkpoint`` into the config's model (a D-Net ``model_final.pth`` loads into a
``VideoSegmenter`` as its proposer), then saves ``{"model": state_dict, "__meta__": ...}`` with
no optimizer/scheduler state; ``--half`` stores floating tensors as float16 (they are cast back to
the model's dtype on load; BatchNorm statistics stay float32), halving the size. Written atomically.
"""
import argparse
import hashlib
import os
import tempfile


import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import LazyConfig, instantiate

import uvmos  # noqa: F401
from uvmos.utils.file_io import public_permissions


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config-file", required=True)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--half", action="store_true")
    args = p.parse_args(argv)
    if not os.path.isfile(args.checkpoint):
        p.error(f"--checkpoint {args.checkpoint}: no such file")
    cfg = LazyConfig.load(args.config_file)
    model = instantiate(cfg.model)
    DetectionCheckpointer(model).load(args.checkpoint)
    state = {}
    for k, v in model.state_dict().items():
        # BatchNorm statistics stay float32 (a stem's running_var overflows float16)
        keep = k.endswith(("running_mean", "running_var")) or not v.is_floating_point()
        state[k] = v if keep or not args.half else v.half()
        if not torch.isfinite(state[k].float()).all():
            raise SystemExit(f"error: {k} is not finite in {'float16' if args.half else 'float32'}")
    src = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    meta = {"config": args.config_file, "source": os.path.basename(args.checkpoint),
            "iteration": src.get("iteration") if isinstance(src, dict) else None, "half": args.half}
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".pth", dir=os.path.dirname(os.path.abspath(args.out)))
    os.close(fd)
    torch.save({"model": state, "__meta__": meta}, tmp)
    public_permissions(tmp)
    os.replace(tmp, args.out)
    digest = hashlib.sha256(open(args.out, "rb").read()).hexdigest()[:16]
    print(f"saved {args.out}: {os.path.getsize(args.out) / 1e6:.2f} MB, {len(state)} tensors, sha256 {digest}")


if __name__ == "__main__":
    main()
