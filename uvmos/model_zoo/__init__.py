"""Weights and configs that ship with uvmos, found without a path into the repository.

Like ``detectron2.model_zoo``: :func:`get_config_file` / :func:`get_config` find a packaged config
by its path under ``configs/`` (``"uvmos/tiny_cpu.py"``), :func:`get` builds its model with weights
loaded, and :func:`embedded_weights` gives the path of a weight file shipped in this folder (see
MODEL_CARD.md next to this file and docs/model_zoo.md).

Configs are read from the source checkout's ``configs/`` (in-place installs, which ``make install``
does) or from ``uvmos/model_zoo/configs`` (a copy that ``setup.py`` puts into built wheels).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

__all__ = ["embedded_weights", "get_config_file", "get_config", "get"]

_HERE = os.path.dirname(os.path.abspath(__file__))
_CONFIG_ROOTS = (Path(_HERE).parents[1] / "configs", Path(_HERE) / "configs")


def embedded_weights(name: str = "uvmos_tiny_cpu.pth") -> str:
    """Absolute path of an embedded weights file; a clear error when it is not there."""
    path = os.path.join(_HERE, name)
    if not os.path.isfile(path):
        have = sorted(f for f in os.listdir(_HERE) if f.endswith(".pth"))
        raise FileNotFoundError(f"{path}: no embedded weights of that name (have: {have or 'none'})")
    return path


def get_config_file(config_path: str) -> str:
    """Absolute path of a packaged config, e.g. ``get_config_file("uvmos/tiny_cpu.py")``."""
    rel = config_path[len("configs/") :] if config_path.startswith("configs/") else config_path
    for root in _CONFIG_ROOTS:
        if (root / rel).is_file():
            return str(root / rel)
    roots = [r for r in _CONFIG_ROOTS if r.is_dir()]
    have = sorted(str(p.relative_to(roots[0])) for p in roots[0].rglob("*.py")) if roots else []
    raise FileNotFoundError(f"{config_path}: no packaged config of that name (have: {', '.join(have) or 'none'})")


def get_config(config_path: str, overrides: Sequence[str] = ()):
    """The packaged config as a LazyConfig, with checked ``key=value`` overrides applied."""
    from uvmos.utils.config import load_config

    return load_config(get_config_file(config_path), overrides)


def get(
    config_path: str, overrides: Sequence[str] = (), device: Optional[str] = None, allow_random_weights: bool = False
):
    """A :class:`uvmos.engine.VideoPredictor` for a packaged config (weights: its
    ``train.init_checkpoint``), e.g. ``get("uvmos/tiny_cpu.py")(video_path)``."""
    from uvmos.engine import VideoPredictor

    return VideoPredictor(get_config(config_path, overrides), device=device, allow_random_weights=allow_random_weights)
