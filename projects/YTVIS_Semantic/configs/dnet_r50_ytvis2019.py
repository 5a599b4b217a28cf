"""Semantic D-Net (§4.3) at the paper's scale on YouTube-VIS 2019: R-50 + SGM, salient head with
40 + 1 classes, §4.1 training. Needs ``$UVMOS_DATASETS/ytvis_2019`` (docs/datasets.md), ImageNet
weights (``train.init_checkpoint=/path/R-50.pkl``, loaded into both backbones) and GPUs.

YouTube-VIS has no public validation ground truth: per-frame AP is measured on a held-out part of
train (register it with ``uvmos.data.builtin.register_ytvis``); the video-level results of the
``valid`` split go to the evaluation server (``uvmos_r50_ytvis2019.py``).
"""

from ....configs.dnet.r50_paper import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.sal_head.num_classes = 41
dataloader.train.dataset_names = ("ytvis_2019_train",)
dataloader.test.dataset_name = "ytvis_2019_train"  # replace by a held-out registered split
dataloader.evaluator.class_agnostic = False
train.output_dir = "./output/ytvis_semantic_dnet_r50_2019"
