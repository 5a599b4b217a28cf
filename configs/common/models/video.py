"""The video meta-architecture (``VideoSegmenter``): a proposer + an associator, frame by frame.

Set ``model.proposer`` in the config that imports this (D-Net, Mask R-CNN or the oracle).
"""

from detectron2.config import LazyCall as L

from uvmos.modeling.meta_arch import VideoSegmenter

from .tnet import tnet

model = L(VideoSegmenter)(
    proposer=None,
    associator=tnet,
    timer=None,
)
