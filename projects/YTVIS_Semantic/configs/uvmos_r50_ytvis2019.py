"""The semantic variant at the paper's scale on YouTube-VIS 2019 ``valid`` (§4.3, Table 2):
semantic D-Net R-50 + T-Net (R-101 features). The split has no public ground truth, so this writes
the server's ``results.json`` (tracks with categories and scores) instead of evaluating:

    python tools/run_dataset.py --config-file projects/YTVIS_Semantic/configs/uvmos_r50_ytvis2019.py \
        --output output/ytvis2019_valid --ytvis-results output/ytvis2019_valid/results.json \
        'train.init_checkpoint={proposer:output/ytvis_semantic_dnet_r50_2019/model_final.pth,associator.features.backbone:/path/R-101.pkl}'

(one entry per part, as ``configs/uvmos/r50_paper.py``: the trained semantic D-Net and ImageNet
R-101 for the tracker; a plain path would replace both entries and leave the R-101 random).
"""

from ....configs.uvmos.r50_paper import dataloader, model, train
from .dnet_r50_ytvis2019 import model as dnet_model

model.proposer = dnet_model
dataloader.test.dataset_name = "ytvis_2019_val"
dataloader.evaluator = None  # no public ground truth: tools/run_dataset.py --ytvis-results
train.output_dir = "output/ytvis_semantic_uvmos_r50_2019"
