"""configs/uvmos/tiny_cpu_reid.py with the re-ID head trained on the hard split
(configs/tnet/reid_hard_tiny_cpu.py) in eq. 10 instead of the parameter-free mask-pooled features.

    python tools/train_net.py --config-file configs/uvmos/tiny_cpu_reid_hard.py --eval-only
"""

from .tiny_cpu_reid import dataloader, model, train

train.init_checkpoint["associator.reid"] = "output/reid_hard_tiny_cpu/model_final.pth"
train.output_dir = "output/uvmos_tiny_cpu_reid_hard"
