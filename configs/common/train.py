"""Training defaults for tools/train_net.py (detectron2's configs/common/train.py fields)."""
train = dict(
    output_dir="./output",
    # A full uvmos checkpoint (model_final.pth) to start from / evaluate. ImageNet backbones are
    # loaded through model.backbone.weights / model.sgm_backbone.weights instead (see
    # configs/common/models/dnet.py).
    init_checkpoint="",
    max_iter=90000,
    amp=dict(enabled=False),
    ddp=dict(broadcast_buffers=False, find_unused_parameters=False, fp16_compression=False),
    checkpointer=dict(period=5000, max_to_keep=100),
    eval_period=5000,
    log_period=20,
    device="cuda",
)
