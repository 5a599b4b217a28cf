"""The semantic variant end to end (§4.3), tiny: semantic D-Net proposals + T-Net; each track's
category is the score-weighted vote of its matched proposals' classes; YouTube-VIS AP/AR.

    python tools/train_net.py --config-file projects/YTVIS_Semantic/configs/uvmos_tiny_synth.py \
        --eval-only train.init_checkpoint=output/ytvis_semantic_dnet_tiny/model_final.pth
"""

from detectron2.config import LazyCall as L

from uvmos.evaluation.ytvis import YTVISEvaluator

from ....configs.uvmos.tiny_cpu import dataloader, model, train
from .dnet_tiny_synth import model as dnet_model

model.proposer = dnet_model
dataloader.test.dataset_name = "uvmos_synth_ytvis_val"
dataloader.evaluator = L(YTVISEvaluator)(dataset_name="${..test.dataset_name}", output_dir="${train.output_dir}")
train.init_checkpoint = "output/ytvis_semantic_dnet_tiny/model_final.pth"
train.output_dir = "output/ytvis_semantic_uvmos_tiny"
