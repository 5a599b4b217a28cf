"""Semantic D-Net (§4.3) at the paper's scale on YouTube-VIS 2019: R-50 + SGM, salient head with
40 + 1 classes, §4.1 training. Needs ``$UVMOS_DATASETS/ytvis_2019`` (docs/datasets.md), ImageNet
weights (``train.init_checkpoint=/path/R-50.pkl``, loaded into both backbones) and GPUs.

**As shipped, the evaluation split is the training split** (``dataloader.test.dataset_name =
"ytvis_2019_train"``): YouTube-VIS has no public validation ground truth (``ytvis_2019_val`` can
only be scored by the evaluation server) and uvmos registers no held-out split, so the per-frame AP
that ``tools/train_net.py`` reports with this config is AP on training videos, not a generalisation
figure. For a real one, hold out part of train (its own JSON), register it with
``uvmos.data.builtin.register_ytvis("ytvis_2019_holdout", JSON, IMAGE_ROOT,
categories=YTVIS_2019_CATEGORIES)``, train on the rest, and evaluate with
``dataloader.test.dataset_name=ytvis_2019_holdout``. The video-level results of the ``valid``
split go to the evaluation server (``uvmos_r50_ytvis2019.py``).
"""

from ....configs.dnet.r50_paper import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.sal_head.num_classes = 41
dataloader.train.dataset_names = ("ytvis_2019_train",)
dataloader.test.dataset_name = "ytvis_2019_train"  # the TRAINING split (no held-out one is registered): see above
dataloader.evaluator.class_agnostic = False
train.output_dir = "./output/ytvis_semantic_dnet_r50_2019"
