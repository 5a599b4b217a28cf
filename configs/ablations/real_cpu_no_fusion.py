"""Real-video default without the learned veto (``MotionFusionNet``): the weight-free rule alone,
the default before session 7 (docs/real_video.md).

    python tools/benchmark.py run --config-file configs/ablations/real_cpu_no_fusion.py --dataset davis2016_shared_train
"""

from ..uvmos.real_cpu import dataloader, model, train

model.proposer.fusion = None
train.init_checkpoint = ""
train.output_dir = "output/ablation_real_cpu_no_fusion"
