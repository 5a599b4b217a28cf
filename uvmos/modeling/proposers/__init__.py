"""Frame-level proposers other than D-Net (which registers itself): Mask R-CNN, ground-truth oracle,
and the weight-free motion proposer for real video."""

from .colour_model import ColourModel
from .grabcut import GrabCutRefiner
from .maskrcnn import MaskRCNNProposer
from .motion import MotionProposer
from .motion_fusion import MotionFusionNet
from .oracle import OracleProposer

__all__ = ["ColourModel", "GrabCutRefiner", "MaskRCNNProposer", "MotionFusionNet", "MotionProposer", "OracleProposer"]
