"""Baseline: class-agnostic Mask R-CNN R-50-FPN proposals + greedy IoU association (Hungarian).

    python tools/train_net.py --config-file configs/baselines/maskrcnn_greedy.py --eval-only \
        'train.init_checkpoint={proposer.model:/path/model_final.pkl}'

Weights: a 1-class model trained on the video frames, or 80-class COCO weights with
``model.proposer.model.roi_heads.num_classes=80``, whose classes are merged by the proposer's
class-agnostic NMS.
"""

from detectron2.config import LazyCall as L

from uvmos.modeling.associators import GreedyAssociator
from uvmos.modeling.proposers import MaskRCNNProposer
from uvmos.modeling.proposers.maskrcnn import mask_rcnn_fpn_config

from ..common.models.video import model
from ..uvmos._video_eval import dataloader, train

model.proposer = L(MaskRCNNProposer)(
    model=mask_rcnn_fpn_config(num_classes=1, depth=50),
    score_thresh=0.5,
    max_proposals=50,
    class_agnostic=True,
    agnostic_nms=0.5,
    return_features=True,
)
model.associator = L(GreedyAssociator)(
    match_thresh=0.3, embed_weight=0.0, proposal_score_thresh=0.5, max_tracks=20, max_lost_frames=50
)
train.output_dir = "output/baseline_maskrcnn_greedy"
train.init_checkpoint = ""  # give {proposer.model: FILE}: see above
