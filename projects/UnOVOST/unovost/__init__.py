from .associator import Tracklet, UnOVOSTAssociator, merge_tracklets, select_tracks
from .flow import dis_flow, warp_mask
from .meta_arch import UnOVOSTSegmenter

__all__ = [
    "dis_flow",
    "warp_mask",
    "Tracklet",
    "UnOVOSTAssociator",
    "merge_tracklets",
    "select_tracks",
    "UnOVOSTSegmenter",
]
