"""Table 3 ablation "D-Net w/o SGM": tiny_cpu without the segmentation guidance branch."""

from .tiny_cpu import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.use_sgm = False
model.sgm_backbone = model.sgm_neck = model.sal_fusion = model.ins_fusion = None
train.output_dir = "./output/dnet_tiny_cpu_wo_sgm"
