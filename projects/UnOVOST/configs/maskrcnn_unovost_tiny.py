"""UnOVOST-style tracking of the tiny Mask R-CNN's proposals (the paper's UnOVOST row, at CPU scale).

    python tools/benchmark.py run --config-file projects/UnOVOST/configs/maskrcnn_unovost_tiny.py \
        --dataset uvmos_synth_test
    python tools/train_net.py --config-file projects/UnOVOST/configs/maskrcnn_unovost_tiny.py --eval-only
Offline over each whole video (``UnOVOSTSegmenter``). Thresholds are the associator's defaults
(link IoU 0.3, merge cosine 0.8, selection 0.1 score per frame; colour re-ID), not tuned.
"""

from detectron2.config import LazyCall as L

from uvmos.projects.UnOVOST.unovost import UnOVOSTAssociator, UnOVOSTSegmenter

from ....configs.uvmos._video_eval import dataloader, train
from ...MaskRCNN.configs.maskrcnn_proposer_tiny import WEIGHTS
from ...MaskRCNN.configs.maskrcnn_proposer_tiny import model as proposer

proposer.score_thresh = 0.5
proposer.max_proposals = 50
model = L(UnOVOSTSegmenter)(
    proposer=proposer,
    associator=L(UnOVOSTAssociator)(
        proposal_score_thresh=0.5,
        min_area=16,
        link_iou=0.3,
        flow_preset="medium",
        reid="color",
        merge_sim=0.8,
        max_gap=None,
        select_thresh=0.1,
        max_tracks=20,
    ),
)
train.output_dir = "output/maskrcnn_unovost_tiny"
train.init_checkpoint = {"proposer.model": WEIGHTS}
