#!/usr/bin/env python
"""What ``make demo`` runs: the embedded default model on a synthetic test clip, then its J&F.

1. Generates (once) a synthetic clip the model never saw: ``datasets/uvmos_demo`` (test split,
   its own seed), in the DAVIS layout with ground truth.
2. Runs ``tools/demo.py`` with ``configs/uvmos/tiny_cpu.py`` (whose ``train.init_checkpoint`` is the
   embedded model ``uvmos/model_zoo/uvmos_tiny_cpu.pth``): writes ``output/demo/overlay.mp4``,
   ``output/demo/masks/*.png`` and ``output/demo/results.json``.
3. Prints the DAVIS-2017 unsupervised J&F of those masks against the clip's ground truth.

    python tools/make_demo.py [--output output/demo] [--length 48] [--config-file FILE] [KEY=VALUE ...]

Trailing ``KEY=VALUE`` overrides (and ``--allow-random-weights``) are passed on to ``tools/demo.py``,
e.g. ``train.init_checkpoint=output/dnet_tiny_cpu/model_final.pth`` for a D-Net you trained.
"""

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

from detectron2.utils.logger import setup_logger  # noqa: E402

import uvmos  # noqa: F401,E402
from uvmos.data.davis import load_davis_videos  # noqa: E402
from uvmos.data.io import read_id_map  # noqa: E402
from uvmos.data.synthetic import RESOLUTION, SyntheticConfig, make_synthetic_dataset  # noqa: E402
from uvmos.engine.defaults import default_argument_parser  # noqa: E402
from uvmos.evaluation.davis import evaluate_davis  # noqa: E402

DEFAULT_CONFIG = REPO / "configs" / "uvmos" / "tiny_cpu.py"
EMBEDDED_WEIGHTS = REPO / "uvmos" / "model_zoo" / "uvmos_tiny_cpu.pth"


def main(argv=None):
    p = default_argument_parser(__doc__, config_required=False)
    p.set_defaults(config_file=str(DEFAULT_CONFIG))
    p.add_argument("--output", default=str(REPO / "output" / "demo"))
    p.add_argument("--data", default=str(REPO / "datasets" / "uvmos_demo"), help="where the demo clip is generated")
    p.add_argument("--length", type=int, default=48, help="frames in the demo clip")
    args = p.parse_args(argv)
    setup_logger(name="uvmos")

    names = make_synthetic_dataset(
        args.data, SyntheticConfig(length=args.length), num_train=0, num_val=0, num_test=1, seed=2021, progress=False
    )["test"]
    clip = names[0]
    frames = os.path.join(args.data, "JPEGImages", RESOLUTION, clip)
    print(f"[demo] clip {clip}: {args.length} frames in {frames}")

    import demo  # tools/demo.py, next to this file

    out = demo.run(
        demo.get_parser().parse_args(
            ["--config-file", args.config_file, "--input", frames, "--output", args.output]
            + (["--allow-random-weights"] if args.allow_random_weights else [])
            + list(args.opts)
        )
    )
    mask_dir = os.path.join(args.output, "masks")
    stems = sorted(Path(f).stem for f in os.listdir(frames))
    results = {clip: [read_id_map(os.path.join(mask_dir, s + ".png")) for s in stems]}
    gt = [v for v in load_davis_videos(args.data, "test") if v["video_id"] == clip]
    res = evaluate_davis(gt, results, task="unsupervised", num_workers=1)
    g = res.global_figures
    print(f"[demo] {out['frames']} frames at {out['sec_per_frame']:.3f} s/frame")
    print(f"[demo] outputs: {args.output}/overlay.mp4, {mask_dir}/*.png, {args.output}/results.json")
    print("[demo] DAVIS unsupervised J&F on the clip: " + ", ".join(f"{k} {v:.3f}" for k, v in g.items()))


if __name__ == "__main__":
    main()
