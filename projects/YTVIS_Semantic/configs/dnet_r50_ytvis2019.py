"""Semantic D-Net (§4.3) at the paper's scale on YouTube-VIS 2019: R-50 + SGM, salient head with
40 + 1 classes, §4.1 training. Needs ``$UVMOS_DATASETS/ytvis_2019`` (docs/datasets.md), ImageNet
weights (loaded into both backbones) and GPUs:

    python tools/train_net.py --config-file projects/YTVIS_Semantic/configs/dnet_r50_ytvis2019.py \
        train.init_checkpoint=/path/R-50.pkl

**As shipped, the evaluation split is the training split** (``dataloader.test.dataset_name =
"ytvis_2019_train"``): YouTube-VIS has no public validation ground truth and uvmos registers no
held-out split, so the per-frame AP reported with this config is AP on training videos, not a
generalisation figure (holding out a split: projects/YTVIS_Semantic/README.md, "Run").
"""

from ....configs.dnet.r50_paper import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.sal_head.num_classes = 41
dataloader.train.dataset_names = ("ytvis_2019_train",)
dataloader.test.dataset_name = "ytvis_2019_train"  # the TRAINING split (no held-out one is registered): see above
dataloader.evaluator.class_agnostic = False
train.output_dir = "./output/ytvis_semantic_dnet_r50_2019"
