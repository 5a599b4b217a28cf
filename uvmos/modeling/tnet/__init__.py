"""T-Net (paper §3.2): target appearance models, online solvers, verification, re-ID, memory, tracker."""

from .appearance import ConvTargetModel
from .features import BackboneFeatures, ProposerFeatures
from .memory import AdaptiveMemory, FixedRateMemory, NoUpdateMemory, SampleMemory
from .objective import TargetObjective, hinge_pixel_weights, objective_value
from .reid import MaskPooledEmbedder, ReIDHead, mask_pool, reid_losses
from .solver import GaussNewtonCG, GradientDescent
from .state import Tracklet
from .tracker import TNetTracker
from .verifier import NoVerifier, ReIDVerifier, Verification

__all__ = [
    "ConvTargetModel",
    "BackboneFeatures",
    "ProposerFeatures",
    "AdaptiveMemory",
    "FixedRateMemory",
    "NoUpdateMemory",
    "SampleMemory",
    "MaskPooledEmbedder",
    "ReIDHead",
    "mask_pool",
    "reid_losses",
    "GaussNewtonCG",
    "GradientDescent",
    "TargetObjective",
    "hinge_pixel_weights",
    "objective_value",
    "TNetTracker",
    "Tracklet",
    "NoVerifier",
    "ReIDVerifier",
    "Verification",
]
