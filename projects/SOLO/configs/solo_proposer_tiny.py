"""The trained tiny SOLOv2 (solov2_tiny_cpu.py) as a proposer, for per-frame AP (Table 3).

    python tools/eval_frame_ap.py --config-file projects/SOLO/configs/solo_proposer_tiny.py \
        --dataset uvmos_synth_test
All proposals SOLOv2's inference keeps (score >= 0.05 after Matrix NMS, at most 100 per frame).
"""

from detectron2.config import LazyCall as L
from omegaconf import OmegaConf

from uvmos.data.build import build_video_test_loader
from uvmos.evaluation.frame_ap import FrameAPEvaluator
from uvmos.projects.SOLO.solo import SOLOProposer

from .solov2_tiny_cpu import model as _solo
from .solov2_tiny_cpu import train

WEIGHTS = "output/solov2_tiny_cpu/model_final.pth"

model = L(SOLOProposer)(model=_solo, score_thresh=0.05, max_proposals=100, return_features=False)
dataloader = OmegaConf.create()
dataloader.test = L(build_video_test_loader)(dataset_name="uvmos_synth_val")
dataloader.evaluator = L(FrameAPEvaluator)(dataset_name="${..test.dataset_name}", class_agnostic=True)
train.init_checkpoint = {"model": WEIGHTS}  # the SOLOv2 inside this proposer
