"""Associators linking proposals over time. T-Net (``TNetTracker``) lives in ``uvmos.modeling.tnet``."""

from .greedy import GreedyAssociator

__all__ = ["GreedyAssociator"]
