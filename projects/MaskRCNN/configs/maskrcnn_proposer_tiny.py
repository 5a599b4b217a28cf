"""The trained tiny Mask R-CNN (maskrcnn_tiny_cpu.py) as a proposer, for per-frame AP (Table 3).

    python tools/eval_frame_ap.py --config-file projects/MaskRCNN/configs/maskrcnn_proposer_tiny.py \
        --dataset uvmos_synth_test
Proposals down to score 0.05 (detectron2's test threshold), at most 100 per frame: AP integrates
over the score ranking, so no working-point threshold is applied here (the video configs use 0.5).
"""

from detectron2.config import LazyCall as L
from omegaconf import OmegaConf

from uvmos.data.build import build_video_test_loader
from uvmos.evaluation.frame_ap import FrameAPEvaluator
from uvmos.modeling.proposers import MaskRCNNProposer

from .maskrcnn_tiny_cpu import model as _rcnn
from .maskrcnn_tiny_cpu import train

WEIGHTS = "output/maskrcnn_tiny_cpu/model_final.pth"

model = L(MaskRCNNProposer)(
    model=_rcnn, score_thresh=0.05, max_proposals=100, class_agnostic=True, agnostic_nms=0.5, return_features=False
)
dataloader = OmegaConf.create()
dataloader.test = L(build_video_test_loader)(dataset_name="uvmos_synth_val")
dataloader.evaluator = L(FrameAPEvaluator)(dataset_name="${..test.dataset_name}", class_agnostic=True)
train.init_checkpoint = {"model": WEIGHTS}  # the GeneralizedRCNN inside this proposer
