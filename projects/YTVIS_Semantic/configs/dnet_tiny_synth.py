"""Semantic D-Net (§4.3), tiny: the salient head predicts K + 1 classes (background + the 8 synthetic
categories) instead of 2; instance proposals take the majority class of their pixels.

Train on the YouTube-VIS-format synthetic split (same frames as ``uvmos_synth``, with categories):
    OMP_NUM_THREADS=1 python tools/train_net.py \
        --config-file projects/YTVIS_Semantic/configs/dnet_tiny_synth.py
Evaluated by class-aware per-frame mask AP on ``uvmos_synth_ytvis_val``.

The salient loss weighs 4 (binary D-Net: 1): with K + 1 classes the cross-entropy is the hard part,
and at weight 1 the tiny model's head collapsed onto a few classes (weight chosen on the val split;
results: projects/YTVIS_Semantic/README.md, "Measured").
"""

from ....configs.dnet.tiny_cpu import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.sal_head.num_classes = 9  # background + uvmos_synth's 8 categories (MetadataCatalog thing_classes)
model.loss_weights["loss_sal"] = 4.0
dataloader.train.dataset_names = ("uvmos_synth_ytvis_train",)
dataloader.test.dataset_name = "uvmos_synth_ytvis_val"
dataloader.evaluator.class_agnostic = False
train.output_dir = "./output/ytvis_semantic_dnet_tiny"
