"""T-Net with steepest descent instead of Gauss-Newton-CG for eq. 9 (same steps as GN).

    python tools/table4_tnet.py --config-file configs/ablations/tnet_gradient_descent.py \
        --dataset uvmos_synth_hard_test
"""

from detectron2.config import LazyCall as L

from uvmos.modeling.tnet import GradientDescent

from ..uvmos.tiny_cpu import dataloader, model, train

model.associator.solver = L(GradientDescent)(init_steps=5, update_steps=1, lr=None)
train.output_dir = "output/ablation_tnet_gradient_descent"
