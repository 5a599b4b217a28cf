"""Loading a component's weights from a user file, also when the file holds a larger model."""
from __future__ import annotations

import logging
import os

import numpy as np
import torch
from torch import nn

__all__ = ["load_weights"]


def load_weights(module: nn.Module, path: str) -> None:
    """Load ``path`` into ``module``.

    ``.pkl`` files (detectron2 model zoo / Caffe2) go through detectron2's ``DetectionCheckpointer``.
    Other files (detectron2 ``.pth`` with ``{"model": state_dict}``, or a bare state dict) may come
    from a larger model: each parameter ``k`` of ``module`` takes the checkpoint entry ``k`` or,
    failing that, the shortest entry ending in ``.k`` (e.g. ``head.mlp.0.weight`` of a ReIDTrainer
    checkpoint, or ``associator_modules.reid.mlp.0.weight`` of a VideoSegmenter one, lands in
    ``ReIDHead.mlp.0.weight``). Entries of the wrong shape are skipped; missing ones are logged."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: weight file not found")
    if path.endswith((".pkl", ".pyth")):
        from detectron2.checkpoint import DetectionCheckpointer

        DetectionCheckpointer(module).load(path)
        return
    data = torch.load(path, map_location="cpu", weights_only=False)
    state = data.get("model", data) if isinstance(data, dict) else None
    if not isinstance(state, dict):
        raise ValueError(f"{path}: not a state dict nor a detectron2 checkpoint")
    own = module.state_dict()
    by_suffix = sorted(state, key=len)
    mapped, missing = {}, []
    for k, v in own.items():
        src = k if k in state else next((c for c in by_suffix if c.endswith("." + k)), None)
        if src is None:
            missing.append(k)
            continue
        w = state[src]
        w = torch.as_tensor(w) if isinstance(w, np.ndarray) else w
        if tuple(w.shape) != tuple(v.shape):
            missing.append(k)
            continue
        mapped[k] = w
    if not mapped:
        raise ValueError(f"{path}: no entry matches the parameters of {type(module).__name__}")
    module.load_state_dict(mapped, strict=False)
    if missing:
        logging.getLogger(__name__).warning(
            "%s: %d of %d tensors of %s not in the file (kept): %s", path, len(missing), len(own),
            type(module).__name__, missing[:5],
        )
