#!/usr/bin/env python
"""Export a trained checkpoint as a compact weights file for a config's whole model.

    python tools/export_weights.py --config-file configs/uvmos/tiny_cpu.py \
        --out uvmos/model_zoo/uvmos_tiny_cpu.pth [--half] train.init_checkpoint=output/dnet_tiny_cpu/model_final.pth

The source is ``train.init_checkpoint`` (a trailing override; a path, or ``{submodule: path}`` for
parts), loaded into the config's model by uvmos's checkpointer (a D-Net ``model_final.pth`` loads
into a ``VideoSegmenter`` as its proposer); a model that would keep random weights is refused.
Then saves ``{"model": state_dict, "__meta__": ...}`` with no optimizer/scheduler state; ``--half``
stores floating tensors as float16 (they are cast back to the model's dtype on load; BatchNorm
statistics stay float32), halving the size. Written atomically.
"""

import hashlib
import os
import tempfile

import torch

import uvmos  # noqa: F401
from uvmos.engine.checkpoint import CheckpointError
from uvmos.engine.defaults import build_model, default_argument_parser
from uvmos.utils.config import ConfigError, ToolExit, load_config
from uvmos.utils.file_io import public_permissions


def _source_meta(spec):
    """(source description, iteration) of ``train.init_checkpoint`` for the file's ``__meta__``."""
    if hasattr(spec, "items"):
        return {str(k): os.path.basename(str(v)) for k, v in spec.items() if v}, None
    if "://" in str(spec):
        return str(spec), None
    src = torch.load(str(spec), map_location="cpu", weights_only=False)
    return os.path.basename(str(spec)), src.get("iteration") if isinstance(src, dict) else None


def main(argv=None):
    p = default_argument_parser(__doc__, weights_flag=False)
    p.add_argument("--out", required=True, help="the weights file to write")
    p.add_argument("--half", action="store_true", help="store floating tensors as float16")
    args = p.parse_args(argv)
    try:
        cfg = load_config(args.config_file, args.opts)
        spec = cfg.train.get("init_checkpoint", "")
        if not spec:
            raise ConfigError(
                "train.init_checkpoint is empty: give the checkpoint to export, "
                "train.init_checkpoint=output/x/model_final.pth"
            )
        model = build_model(cfg, device="cpu")
    except (ConfigError, CheckpointError) as e:
        raise ToolExit(e) from None
    state = {}
    for k, v in model.state_dict().items():
        # BatchNorm statistics stay float32 (a stem's running_var overflows float16)
        keep = k.endswith(("running_mean", "running_var")) or not v.is_floating_point()
        state[k] = v if keep or not args.half else v.half()
        if not torch.isfinite(state[k].float()).all():
            raise ToolExit(f"{k} is not finite in {'float16' if args.half else 'float32'}")
    source, iteration = _source_meta(spec)
    meta = {"config": args.config_file, "source": source, "iteration": iteration, "half": args.half}
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
