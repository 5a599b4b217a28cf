"""Tiny SOLOv2 proposals tracked by T-Net on SOLOv2's FPN maps (p3: stride 8, p4: 16). DAVIS J&F:
    python tools/benchmark.py run --config-file projects/SOLO/configs/solo_tnet_tiny.py --dataset uvmos_synth_test
Proposals scoring >= 0.3 after Matrix NMS enter the tracker (SOLO's scores are lower than Mask
R-CNN's: they are multiplied by the mask's mean probability; not tuned).
"""

from ....configs.common.models.tnet import use_fpn_features
from ....configs.uvmos.tiny_cpu import dataloader, model, train
from .solo_proposer_tiny import WEIGHTS
from .solo_proposer_tiny import model as proposer

model.proposer = proposer
model.proposer.score_thresh = 0.3
model.proposer.max_proposals = 50
model.proposer.return_features = True
use_fpn_features(model.associator)
train.init_checkpoint = {"proposer.model": WEIGHTS}
train.output_dir = "output/solo_tnet_tiny"
