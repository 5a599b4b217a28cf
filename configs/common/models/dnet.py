"""D-Net model as in paper §3.1: dilated R-50 (output stride 16), two ASPP (C = 256, rates 6/12/18),
SGM branch (4-channel dilated R-50 + ASPP) with two SE fusions, salient and instance heads.

Pixel statistics and ``stride_in_1x1`` follow detectron2's MSRA ImageNet R-50 (BGR, std 1); set
``train.init_checkpoint`` to an ImageNet file to start from it: uvmos's checkpointer loads it into
both backbones, the SGM's 4-channel stem included (see uvmos/modeling/backbone.py for the accepted
layouts). Norms: SyncBN (paper silent; per-GPU batches of 640x640 crops are small).
"""

from detectron2.config import LazyCall as L

from uvmos.modeling.backbone import build_dilated_resnet
from uvmos.modeling.dnet import (
    ASPPNeck,
    DNet,
    DNetPostProcessor,
    DNetTargetGenerator,
    GuidancePerturbation,
    InstanceHead,
    SalientHead,
    SEGuidanceFusion,
)

model = L(DNet)(
    backbone=L(build_dilated_resnet)(
        depth=50,
        in_channels=3,
        norm="SyncBN",
        stride_in_1x1=True,
        res5_dilation=2,
        out_features=("res2", "res3", "res5"),
        freeze_at=0,
    ),
    sal_neck=L(ASPPNeck)(in_channels=2048, out_channels=256, dilations=(6, 12, 18), norm="SyncBN"),
    ins_neck=L(ASPPNeck)(in_channels=2048, out_channels=256, dilations=(6, 12, 18), norm="SyncBN"),
    sal_head=L(SalientHead)(
        num_classes=2,
        in_channels="${..sal_neck.out_channels}",
        res3_channels=512,
        res2_channels=256,
        decoder_channels=256,
        low_level_channels=None,
        norm="SyncBN",
    ),
    ins_head=L(InstanceHead)(
        in_channels="${..ins_neck.out_channels}",
        res3_channels=512,
        res2_channels=256,
        decoder_channels=256,
        low_level_channels=None,
        norm="SyncBN",
    ),
    sgm_backbone=L(build_dilated_resnet)(
        depth=50, in_channels=4, norm="SyncBN", stride_in_1x1=True, res5_dilation=2, out_features=("res5",), freeze_at=0
    ),
    sgm_neck=L(ASPPNeck)(in_channels=2048, out_channels=256, dilations=(6, 12, 18), norm="SyncBN"),
    sal_fusion=L(SEGuidanceFusion)(channels="${..sal_neck.out_channels}", reduction=16, descriptors="task_guide"),
    ins_fusion=L(SEGuidanceFusion)(channels="${..ins_neck.out_channels}", reduction=16, descriptors="task_guide"),
    use_sgm=True,
    target_generator=L(DNetTargetGenerator)(sigma=10.0, ignore_label=255),
    post_processor=L(DNetPostProcessor)(center_threshold=0.1, nms_kernel=7, top_k=200, min_area=16),
    guidance_perturbation=L(GuidancePerturbation)(p_drop_instance=0.1, p_morph=0.5, max_kernel=9, p_empty=0.1),
    loss_weights={"loss_sal": 1.0, "loss_center": 10.0, "loss_offset": 0.3},
    pixel_mean=[103.530, 116.280, 123.675],
    pixel_std=[1.0, 1.0, 1.0],
    input_format="BGR",
    size_divisibility=16,
    test_size=(480, 854),
    first_frame="two_pass",
    ignore_value=255,
)
