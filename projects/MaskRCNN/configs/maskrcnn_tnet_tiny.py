"""Tiny Mask R-CNN proposals tracked by T-Net on the Mask R-CNN's own FPN maps (p3: stride 8, p4: 16),
the CPU-scale counterpart of configs/baselines/maskrcnn_tnet.py. DAVIS J&F:
    python tools/benchmark.py run --config-file projects/MaskRCNN/configs/maskrcnn_tnet_tiny.py \
        --dataset uvmos_synth_test
Proposals scoring >= 0.5 enter the tracker (the proposer's default; not tuned).
"""

from ....configs.common.models.tnet import use_fpn_features
from ....configs.uvmos.tiny_cpu import dataloader, model, train
from .maskrcnn_proposer_tiny import WEIGHTS
from .maskrcnn_proposer_tiny import model as proposer

model.proposer = proposer
model.proposer.score_thresh = 0.5
model.proposer.max_proposals = 50
model.proposer.return_features = True
use_fpn_features(model.associator)
train.init_checkpoint = {"proposer.model": WEIGHTS}
train.output_dir = "output/maskrcnn_tnet_tiny"
