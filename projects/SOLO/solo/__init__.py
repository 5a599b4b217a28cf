from .matrix_nms import matrix_nms
from .targets import solo_targets
from .solov2 import SOLOv2, SOLOv2InsHead, SOLOv2MaskHead
from .proposer import SOLOProposer

__all__ = ["matrix_nms", "solo_targets", "SOLOv2", "SOLOv2InsHead", "SOLOv2MaskHead", "SOLOProposer"]
