#!/usr/bin/env python
"""Generate the synthetic multi-object video benchmark (docs/synthetic.md).

    python tools/make_synthetic.py [--output DIR] [--height 192 --width 320 --length 24] \
        [--num-train 40 --num-val 10 --num-test 10] [--seed 0] [--contact-sheet docs/images/sheet.jpg]
    python tools/make_synthetic.py --preset hard      # 60/10/30 videos x 64 frames + test seeds 1, 2

Writes the DAVIS layout plus ytvis/{train,val,test}.json under --output (default
``$UVMOS_DATASETS/uvmos_synth``, or ``./datasets/uvmos_synth``), which the registered datasets
``uvmos_synth_{split}`` and ``uvmos_synth_ytvis_{split}`` read. ``--preset hard`` writes
``$UVMOS_DATASETS/uvmos_synth_hard`` (read by ``uvmos_synth_hard_{train,val,test}`` and
``uvmos_synth_hard_test_seed{1,2}``), where association matters (docs/synthetic.md). Rerunning with
the same arguments skips the finished videos; a different config on the same root is an error.
"""

import argparse
import json
import os
import time

import cv2
import numpy as np
from detectron2.utils.visualizer import Visualizer

from uvmos.data.io import read_annotation_png, read_frame
from uvmos.data.synthetic import PRESETS, RESOLUTION, make_synthetic_dataset
from uvmos.engine.writers import track_color
from uvmos.utils.config import ToolExit

# per preset: output folder name and the defaults of the options left unset
PRESET_DEFAULTS = {
    "default": dict(output="uvmos_synth", num_train=40, num_val=10, num_test=10, test_seeds=[]),
    "hard": dict(output="uvmos_synth_hard", num_train=60, num_val=10, num_test=30, test_seeds=[0, 1, 2]),
}


def default_output(preset: str = "default") -> str:
    return os.path.join(os.environ.get("UVMOS_DATASETS", "./datasets"), PRESET_DEFAULTS[preset]["output"])


def _int_at_least(low: int):
    """argparse type: an integer >= ``low`` (argparse then names the option in its error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} is below {low}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def get_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="default",
        help="scene generator: 'default' or 'hard' (crossings of look-alikes, occlusions behind walls, "
        "exits and returns); unset options take the preset's defaults",
    )
    p.add_argument("--output", default=None, help="dataset root (default: $UVMOS_DATASETS/uvmos_synth[_hard])")
    p.add_argument("--height", type=_int_at_least(32), default=None, help="frame height (default 192)")
    p.add_argument("--width", type=_int_at_least(32), default=None, help="frame width (default 320)")
    p.add_argument("--length", type=_int_at_least(1), default=None, help="frames per video (default 24; hard: 64)")
    p.add_argument("--num-train", type=_int_at_least(0), default=None, help="default 40; hard: 60")
    p.add_argument("--num-val", type=_int_at_least(0), default=None, help="default 10; hard: 10")
    p.add_argument("--num-test", type=_int_at_least(0), default=None, help="default 10; hard: 30 (per test seed)")
    p.add_argument("--seed", type=int, default=0, help="dataset seed (each split uses its own seed range)")
    p.add_argument(
        "--test-seeds",
        type=int,
        nargs="*",
        default=None,
        help="also write the test split for these dataset seeds, as split test_seed<N> (default: none; hard: 0 1 2)",
    )
    p.add_argument("--min-objects", type=_int_at_least(0), default=None, help="default 1; hard: 4")
    p.add_argument("--max-objects", type=_int_at_least(1), default=None, help="default 5; hard: 6")
    p.add_argument("--min-distractors", type=_int_at_least(0), default=None, help="default 2; hard: 2")
    p.add_argument("--max-distractors", type=_int_at_least(0), default=None, help="default 6; hard: 4")
    p.add_argument("--contact-sheet", metavar="PATH", help="also write a JPEG grid of frames with mask overlays")
    p.add_argument("--sheet-split", default=None, help="split shown on the contact sheet (default: first non-empty)")
    p.add_argument("--sheet-videos", type=int, default=4, help="rows of the contact sheet")
    p.add_argument("--sheet-frames", type=int, default=4, help="columns of the contact sheet")
    p.add_argument("--sheet-width", type=int, default=1280, help="contact sheet width in pixels")
    return p


def contact_sheet(root: str, split: str, num_videos: int = 4, num_frames: int = 4, width: int = 1280) -> np.ndarray:
    """Grid (BGR uint8) of ``num_frames`` evenly spaced frames of the first ``num_videos`` videos of
    ``split``, read back from disk, with the masks drawn by detectron2's ``Visualizer`` (colour =
    DAVIS palette colour of the object id, label = category). The first column is the raw frame,
    so the unannotated distractors can be seen."""
    json_file = os.path.join(root, "ytvis", f"{split}.json")
    with open(json_file) as f:
        data = json.load(f)
    cats = {c["id"]: c["name"] for c in data["categories"]}
    rows = []
    for video in data["videos"][:num_videos]:
        tracks = {a["instance_id"]: cats[a["category_id"]] for a in data["annotations"] if a["video_id"] == video["id"]}
        T = video["length"]
        times = sorted({int(round(x)) for x in np.linspace(0, T - 1, num_frames)})
        tiles = []
        for col, t in enumerate(times):
            name = video["file_names"][t]
            frame = read_frame(os.path.join(root, "JPEGImages", RESOLUTION, name))
            if col == 0:
                raw = frame.copy()
                cv2.putText(
                    raw, "frame", (4, raw.shape[0] - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA
                )
                tiles.append(raw)
            id_map = read_annotation_png(
                os.path.join(root, "Annotations", RESOLUTION, name[:-4] + ".png"), expected_size=frame.shape[:2]
            )
            ids = [int(i) for i in np.unique(id_map) if 0 < i < 255]
            vis = Visualizer(frame[:, :, ::-1])
            if ids:
                vis.overlay_instances(
                    masks=[id_map == i for i in ids],
                    labels=[f"{i}:{tracks[i]}" for i in ids],
                    assigned_colors=[track_color(i) for i in ids],
                    alpha=0.45,
                )
            img = np.ascontiguousarray(vis.output.get_image()[:, :, ::-1])
            cv2.putText(
                img, f"t={t}", (4, img.shape[0] - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA
            )
            tiles.append(img)
        rows.append(np.concatenate(tiles, 1))
    sheet = np.concatenate([r for r in rows if r.shape[1] == rows[0].shape[1]], 0)
    if sheet.shape[1] > width:
        h = int(round(sheet.shape[0] * width / sheet.shape[1]))
        sheet = cv2.resize(sheet, (width, h), interpolation=cv2.INTER_AREA)
    return sheet


def write_jpeg(path: str, img: np.ndarray, quality: int = 85) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp.jpg"
    if not cv2.imwrite(tmp, img, [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise ToolExit(f"{path}: could not write the image")
    os.replace(tmp, path)


def main(argv=None) -> dict:
    args = get_parser().parse_args(argv)
    defaults = PRESET_DEFAULTS[args.preset]
    for key in ("num_train", "num_val", "num_test", "test_seeds"):
        if getattr(args, key) is None:
            setattr(args, key, defaults[key])
    args.output = args.output or default_output(args.preset)
    fields = ("height", "width", "length", "min_objects", "max_objects", "min_distractors", "max_distractors")
    if args.num_train + args.num_val + args.num_test == 0:
        raise ToolExit("--num-train, --num-val and --num-test are all 0: nothing to generate")
    try:
        cfg = PRESETS[args.preset][0](**{k: getattr(args, k) for k in fields if getattr(args, k) is not None})
    except ValueError as e:
        raise ToolExit(e) from None
    t0 = time.perf_counter()
    try:
        splits = make_synthetic_dataset(
            args.output, cfg, args.num_train, args.num_val, args.num_test, seed=args.seed, test_seeds=args.test_seeds
        )
    except ValueError as e:  # DatasetFormatError (names the file) or a count out of range
        raise ToolExit(e) from None
    n = sum(len(v) for v in splits.values())
    print(
        f"{n} videos ({', '.join(f'{k}: {len(v)}' for k, v in splits.items())}) in {args.output} "
        f"[{time.perf_counter() - t0:.1f}s]"
    )
    if args.contact_sheet:
        split = args.sheet_split or next(iter(splits), None)
        if split not in splits:
            raise ToolExit(f"--sheet-split {split!r} was not generated")
        write_jpeg(
            args.contact_sheet,
            contact_sheet(args.output, split, args.sheet_videos, args.sheet_frames, args.sheet_width),
        )
        print(f"contact sheet: {args.contact_sheet} ({os.path.getsize(args.contact_sheet) // 1024} KB)")
    return splits


if __name__ == "__main__":
    main()
