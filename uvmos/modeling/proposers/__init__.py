"""Frame-level proposers other than D-Net (which registers itself): Mask R-CNN, ground-truth oracle."""
from .maskrcnn import MaskRCNNProposer
from .oracle import OracleProposer

__all__ = ["MaskRCNNProposer", "OracleProposer"]
