"""FRTM's memory instead of the adaptive one: every result stored, refit every 8 frames, no doubling.

    python tools/table4_tnet.py --config-file configs/ablations/tnet_fixed_rate_memory.py \
        --dataset uvmos_synth_hard_test
"""

from detectron2.config import LazyCall as L

from uvmos.modeling.tnet import FixedRateMemory

from ..uvmos.tiny_cpu import dataloader, model, train

model.associator.memory = L(FixedRateMemory)(gamma=0.1, capacity=80, update_every=8)
train.output_dir = "output/ablation_tnet_fixed_rate_memory"
