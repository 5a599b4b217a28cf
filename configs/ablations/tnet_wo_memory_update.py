"""Table 4, "w/o memory updating": each target model keeps the fit on its pseudo label y0."""

from detectron2.config import LazyCall as L

from uvmos.modeling.tnet import NoUpdateMemory

from ..uvmos.tiny_cpu import dataloader, model, train

model.associator.memory = L(NoUpdateMemory)()
train.output_dir = "output/ablation_tnet_wo_memory_update"
