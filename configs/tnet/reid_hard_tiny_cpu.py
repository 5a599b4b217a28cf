"""The re-ID head of eq. 10 trained on the hard synthetic split, where look-alikes, crossing twins
and long occlusions make identity matter (docs/tnet.md, "Re-identification").

    OMP_NUM_THREADS=1 python tools/train_net.py --config-file configs/tnet/reid_hard_tiny_cpu.py

Frame pairs (t, t-k) with k up to 30 frames (an occlusion of the hard split lasts 10-40), on the
frozen backbone of the embedded tiny D-Net; InfoNCE over instance ids.
"""

from uvmos.model_zoo import embedded_weights

from .reid_tiny_cpu import dataloader, lr_multiplier, model, optimizer, train

dataloader.train.dataset_names = ("uvmos_synth_hard_train",)
dataloader.train.mapper.max_gap = 30
train.init_checkpoint = {"backbone": embedded_weights("uvmos_tiny_cpu.pth")}
train.max_iter = 1500
train.output_dir = "./output/reid_hard_tiny_cpu"
