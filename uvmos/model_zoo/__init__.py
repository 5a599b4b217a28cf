"""Weights that ship with uvmos (see MODEL_CARD.md next to this file and docs/model_zoo.md)."""
import os

__all__ = ["embedded_weights"]

_HERE = os.path.dirname(os.path.abspath(__file__))


def embedded_weights(name: str = "uvmos_tiny_cpu.pth") -> str:
    """Absolute path of an embedded weights file; a clear error when it is not there."""
    path = os.path.join(_HERE, name)
    if not os.path.isfile(path):
        have = sorted(f for f in os.listdir(_HERE) if f.endswith(".pth"))
        raise FileNotFoundError(f"{path}: no embedded weights of that name (have: {have or 'none'})")
    return path
