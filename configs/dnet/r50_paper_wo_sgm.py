"""Table 3 ablation "D-Net w/o SGM" at paper scale: r50_paper without the guidance branch.

python tools/train_net.py --config-file configs/dnet/r50_paper_wo_sgm.py train.init_checkpoint=/path/R-50.pkl
"""

from .r50_paper import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.use_sgm = False
model.sgm_backbone = model.sgm_neck = model.sal_fusion = model.ins_fusion = None
train.output_dir = "./output/dnet_r50_paper_wo_sgm"
