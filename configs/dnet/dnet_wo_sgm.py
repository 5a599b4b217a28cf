"""Table 3 ablation "D-Net w/o SGM": tiny_cpu without the segmentation guidance branch.

OMP_NUM_THREADS=1 python tools/train_net.py --config-file configs/dnet/dnet_wo_sgm.py
"""

from .tiny_cpu import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.use_sgm = False
model.sgm_backbone = model.sgm_neck = model.sal_fusion = model.ins_fusion = None
train.output_dir = "./output/dnet_tiny_cpu_wo_sgm"
