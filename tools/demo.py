#!/usr/bin/env python
"""Segment and track the primary objects of a video (detectron2 demo style).

    python tools/demo.py --input VIDEO|FOLDER|GLOB --output OUT_DIR [--config-file FILE] [KEY=VALUE ...]
    python tools/demo.py --config-file configs/uvmos/tiny_cpu.py --input ... --output ... \
        train.init_checkpoint=output/dnet_tiny_cpu/model_final.pth    # weights: the trailing override

The default config is the real-video pipeline ``configs/uvmos/real_cpu.py`` (no downloaded weights; motion +
appearance proposals, docs/real_video.md); ``make demo`` passes the synthetic-trained tiny model
(``configs/uvmos/tiny_cpu.py``) explicitly, as the pipeline demonstration. Trailing ``KEY=VALUE``
pairs override the config; the weights are its ``train.init_checkpoint``.

Writes into OUT_DIR: ``overlay.mp4`` (H.264, plays in a web browser; one stable colour per track),
``masks/<frame>.png`` (DAVIS palette PNGs, pixel value = track id) and ``results.json`` (YouTube-VIS
results format). Streams the frames, so a long video does not fill memory. GPU when present, else
CPU (``--device`` to choose).
"""

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import tqdm
from detectron2.utils.logger import setup_logger

import uvmos  # noqa: F401
from uvmos.data.folder import frame_stems, load_video_source
from uvmos.data.io import image_size, write_palette_png
from uvmos.data.video_dict import DatasetFormatError
from uvmos.engine.checkpoint import CheckpointError
from uvmos.engine.defaults import default_argument_parser
from uvmos.engine.predictor import VideoPredictor
from uvmos.engine.writers import OverlayVideoWriter, YTVISResultsWriter
from uvmos.utils.config import ConfigError, ToolExit, check_device, check_output_dir, check_video_config, load_config
from uvmos.utils.file_io import replace_folder

DEFAULT_CONFIG = str(Path(__file__).resolve().parents[1] / "configs/uvmos/real_cpu.py")


def get_parser():
    p = default_argument_parser(__doc__, config_required=False)
    p.set_defaults(config_file=DEFAULT_CONFIG)  # the real-video pipeline
    p.add_argument("--input", required=True, help="a video file (mp4/avi/mov), a folder of frames, or a glob")
    p.add_argument("--output", required=True, help="output folder")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: the small models run faster single-threaded on a busy CPU)",
    )
    p.add_argument("--no-video", action="store_true", help="skip the overlay video (faster)")
    return p


MIN_FRAME_SIZE = 16  # px: the models downsample by 32; smaller frames give no usable feature map


def check_frame_sizes(video: dict) -> None:
    """Fail before any work when a frame folder mixes frame sizes (reads image headers only), or
    when frames are too small to segment."""
    if min(video["height"], video["width"]) < MIN_FRAME_SIZE:
        src = (video.get("file_names") or [video.get("video_file")])[0]
        raise DatasetFormatError(
            src,
            f"frames are {video['width']}x{video['height']}: too small to segment "
            f"(at least {MIN_FRAME_SIZE}x{MIN_FRAME_SIZE} px)",
        )
    for path in video.get("file_names") or []:
        h, w = image_size(path)
        if (h, w) != (video["height"], video["width"]):
            raise DatasetFormatError(
                path, f"frame size {w}x{h} differs from the first frame's {video['width']}x{video['height']}"
            )


def check_inputs(args):
    """(config, video dict, frame stems or None); every input problem is a one-line error before
    the model is built."""
    try:
        cfg = load_config(args.config_file, args.opts)
        check_video_config(cfg, args.config_file)
        check_device(args.device)
        video = load_video_source(args.input)
        check_frame_sizes(video)
        names = frame_stems(video["file_names"]) if video.get("file_names") else None
        check_output_dir(args.output, "--output")
    except (ConfigError, DatasetFormatError) as e:
        raise ToolExit(e) from None
    return cfg, video, names


def build_predictor(args, cfg) -> VideoPredictor:
    if args.threads > 0:
        import torch

        torch.set_num_threads(args.threads)
    try:
        return VideoPredictor(cfg, device=args.device, allow_random_weights=args.allow_random_weights)
    except CheckpointError as e:
        raise ToolExit(e) from None


def segment(predictor, video, names, mask_dir, overlay, results, t0) -> int:
    """Streams the video through the predictor into the mask PNGs, the results and the overlay;
    returns the number of frames. On an error the overlay and the mask folder are removed."""
    n = 0
    bar = tqdm.tqdm(total=video["length"], desc=f"uvmos {video['video_id']}", unit="frame")
    try:
        for frame, out in predictor(video):
            t = out.frame_idx
            stem = names[t] if names else f"{t:05d}"
            write_palette_png(os.path.join(mask_dir, f"{stem}.png"), out.id_map)
            results.add_frame(t, out.id_map, out.track_scores, out.track_classes)
            if overlay is not None:
                overlay.write(frame, out.id_map, out.track_scores)
            n += 1
            bar.update(1)
            bar.set_postfix(fps=f"{n / (time.perf_counter() - t0):.2f}", tracks=len(out.track_scores))
    except DatasetFormatError as e:  # e.g. a frame that cannot be decoded, found while streaming
        if overlay is not None:
            overlay.abort()
        shutil.rmtree(mask_dir, ignore_errors=True)
        raise ToolExit(e) from None
    except BaseException:
        if overlay is not None:
            overlay.abort()
        shutil.rmtree(mask_dir, ignore_errors=True)
        raise
    finally:
        bar.close()
    return n


def finish(args, video, mask_dir, overlay, results, n, t0) -> dict:
    """Closes the overlay, puts the masks in place of OUT/masks and saves results.json."""
    logger = logging.getLogger("uvmos")
    if overlay is not None:
        overlay.close()
    elif os.path.exists(os.path.join(args.output, "overlay.mp4")):
        os.unlink(os.path.join(args.output, "overlay.mp4"))  # an older run's: it would not match
    replace_folder(mask_dir, os.path.join(args.output, "masks"))
    results.end_video(video["video_id"], video["length"])
    results.save(os.path.join(args.output, "results.json"))
    if n and not results.results:
        logger.warning(
            "no object was found in any of the %d frames: results.json is [] and every mask is "
            "background (a model trained on other data, or threshold overrides too high?)",
            n,
        )
    sec = (time.perf_counter() - t0) / max(n, 1)
    logger.info("%d frames, %.3f s/frame (%.2f FPS); outputs in %s", n, sec, 1 / sec, args.output)
    return {"frames": n, "sec_per_frame": sec, "output": args.output}


def run(args) -> dict:
    cfg, video, names = check_inputs(args)
    predictor = build_predictor(args, cfg)
    logging.getLogger("uvmos").info("weights: %s", predictor.checkpoint or "none (random, --allow-random-weights)")
    # masks go to a temporary folder that replaces masks/ at the end: no stale masks of an older run
    mask_dir = tempfile.mkdtemp(prefix=".tmp-masks-", dir=args.output)
    overlay_path = os.path.join(args.output, "overlay.mp4")
    overlay = None if args.no_video else OverlayVideoWriter(overlay_path, video.get("fps", 24))
    results = YTVISResultsWriter()
    t0 = time.perf_counter()
    n = segment(predictor, video, names, mask_dir, overlay, results, t0)
    return finish(args, video, mask_dir, overlay, results, n, t0)


def main(argv=None):
    setup_logger(name="uvmos")
    return run(get_parser().parse_args(argv))


if __name__ == "__main__":
    main()
