"""D-Net (paper §3.1): dilated ResNet + two ASPP + SGM + salient / instance heads."""

from .aspp import ASPPNeck
from .dnet import DNet
from .heads import DNetDecoder, InstanceHead, SalientHead
from .losses import center_loss, offset_loss, salient_loss
from .post_processing import DNetPostProcessor, find_instance_centers, group_pixels
from .sgm import GuidancePerturbation, SEGuidanceFusion, make_guidance_input
from .target_generator import DNetTargetGenerator, instance_masks

__all__ = [
    "ASPPNeck",
    "DNet",
    "DNetDecoder",
    "DNetPostProcessor",
    "DNetTargetGenerator",
    "GuidancePerturbation",
    "InstanceHead",
    "SEGuidanceFusion",
    "SalientHead",
    "center_loss",
    "find_instance_centers",
    "group_pixels",
    "instance_masks",
    "make_guidance_input",
    "offset_loss",
    "salient_loss",
]
