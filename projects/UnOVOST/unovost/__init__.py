from .flow import dis_flow, warp_mask
from .associator import Tracklet, UnOVOSTAssociator, merge_tracklets, select_tracks
from .meta_arch import UnOVOSTSegmenter

__all__ = ["dis_flow", "warp_mask", "Tracklet", "UnOVOSTAssociator", "merge_tracklets", "select_tracks",
           "UnOVOSTSegmenter"]
