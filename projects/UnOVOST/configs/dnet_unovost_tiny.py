"""UnOVOST-style tracking of the tiny D-Net's proposals (the embedded model): "proposals from any
proposer". Same associator settings as maskrcnn_unovost_tiny.py except that D-Net's proposals are
already thresholded by its own post-processor (score threshold 0).

    python tools/benchmark.py run --config-file projects/UnOVOST/configs/dnet_unovost_tiny.py --dataset uvmos_synth_test
"""

from detectron2.config import LazyCall as L

from uvmos.projects.UnOVOST.unovost import UnOVOSTAssociator, UnOVOSTSegmenter

from ....configs.uvmos.tiny_cpu import dataloader, train
from ....configs.uvmos.tiny_cpu import model as _uvmos
from .maskrcnn_unovost_tiny import model as _mrcnn

model = L(UnOVOSTSegmenter)(proposer=_uvmos.proposer, associator=_mrcnn.associator)
model.associator.proposal_score_thresh = 0.0
train.output_dir = "output/dnet_unovost_tiny"
