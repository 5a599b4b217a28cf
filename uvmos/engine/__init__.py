"""Inference engine: the video predictor, dataset inference, writers, checkpoints and hooks."""

from .predictor import VideoPredictor

__all__ = ["VideoPredictor"]
