"""Real-video default + online colour models (FST's appearance cue made online; not adopted,
docs/real_video.md "Tried and not adopted").

    python tools/benchmark.py run --config-file configs/ablations/real_cpu_colour.py --dataset davis2016_shared_train
"""

from detectron2.config import LazyCall as L

from uvmos.modeling.proposers import ColourModel

from ..uvmos.real_cpu import dataloader, model, train

model.proposer.colour = L(ColourModel)(weight=0.8, mode="max")
train.output_dir = "output/ablation_real_cpu_colour"
