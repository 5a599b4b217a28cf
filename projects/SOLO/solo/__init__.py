from .matrix_nms import matrix_nms
from .proposer import SOLOProposer
from .solov2 import SOLOv2, SOLOv2InsHead, SOLOv2MaskHead
from .targets import solo_targets

__all__ = ["matrix_nms", "solo_targets", "SOLOv2", "SOLOv2InsHead", "SOLOv2MaskHead", "SOLOProposer"]
