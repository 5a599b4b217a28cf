"""Optimiser and LR schedule of paper §4.1: SGD (momentum 0.9, weight decay 5e-4), poly annealing.

``lr_multiplier`` is a detectron2 ``WarmupParamScheduler`` (linear warm-up over the first
``warmup_length`` fraction of training) around fvcore's ``PolynomialDecayParamScheduler``
(lr = base_lr * (1 - iter / max_iter) ** 0.9, the DeepLab "poly" rule; power and base LR are not
given in the paper). Norm and bias parameters get no weight decay (detectron2's default).
"""

import torch
from detectron2.config import LazyCall as L
from detectron2.solver import WarmupParamScheduler
from detectron2.solver.build import get_default_optimizer_params
from fvcore.common.param_scheduler import PolynomialDecayParamScheduler

SGD = L(torch.optim.SGD)(
    # params.model is set to the model object by tools/train_net.py before instantiation
    params=L(get_default_optimizer_params)(weight_decay_norm=0.0),
    lr=0.01,
    momentum=0.9,
    weight_decay=5e-4,
)

poly_lr = L(WarmupParamScheduler)(
    scheduler=L(PolynomialDecayParamScheduler)(base_value=1.0, power=0.9),
    warmup_length=0.01,
    warmup_factor=0.001,
    warmup_method="linear",
)
