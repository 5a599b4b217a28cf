"""Training defaults for tools/train_net.py (detectron2's configs/common/train.py fields)."""

train = dict(
    output_dir="./output",
    # The one way weights enter a model (uvmos.engine.checkpoint.AtomicCheckpointer): a checkpoint
    # of the whole model (model_final.pth), an ImageNet ResNet file (loaded into every backbone it
    # fits), or {submodule: file} for parts, e.g. {"proposer": ..., "associator.reid": ...}.
    init_checkpoint="",
    max_iter=90000,
    amp=dict(enabled=False),
    ddp=dict(broadcast_buffers=False, find_unused_parameters=False, fp16_compression=False),
    checkpointer=dict(period=5000, max_to_keep=100),
    eval_period=5000,
    log_period=20,
    device="cuda",
    # detectron2's default_setup seeds Python, NumPy and torch with seed + rank in every process;
    # -1: a fresh random seed per run (logged as "Using a generated random seed N")
    seed=-1,
)
