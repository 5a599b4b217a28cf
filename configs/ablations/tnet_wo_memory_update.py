"""Table 4, "w/o memory updating": each target model keeps the fit on its pseudo label y0.

    python tools/table4_tnet.py --config-file configs/ablations/tnet_wo_memory_update.py \
        --dataset uvmos_synth_hard_test
"""

from detectron2.config import LazyCall as L

from uvmos.modeling.tnet import NoUpdateMemory

from ..uvmos.tiny_cpu import dataloader, model, train

model.associator.memory = L(NoUpdateMemory)()
train.output_dir = "output/ablation_tnet_wo_memory_update"
