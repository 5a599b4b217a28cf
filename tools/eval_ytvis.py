#!/usr/bin/env python
"""YouTube-VIS AP/AR of a results JSON, as the youtubevos cocoapi (docs/evaluation.md).

    python tools/eval_ytvis.py --gt instances.json --results results.json [--class-agnostic] [--json OUT]

--gt: a YouTube-VIS (``videos`` + track ``annotations``) or CocoVID JSON with ground truth.
--results: ``[{"video_id", "category_id", "score", "segmentations": [RLE | null, ...]}]``.
Prints the twelve COCO-style lines (area ranges small < 128², medium < 256², large) and, with
--json, writes the figures (NaN = no ground truth in that area range -> null).
"""

import argparse
import json
import math
import os
import sys

from uvmos.data.video_dict import DatasetFormatError
from uvmos.evaluation.ytvis import YTVISeval, load_ytvis_gt
from uvmos.evaluation.ytvis_results import load_ytvis_results
from uvmos.utils.config import ConfigError, check_output_file


def get_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--gt", required=True, help="ground-truth JSON (YouTube-VIS or CocoVID layout)")
    p.add_argument("--results", required=True, help="YouTube-VIS results JSON")
    p.add_argument("--class-agnostic", action="store_true", help="ignore categories when matching")
    p.add_argument("--json", default=None, metavar="FILE", help="write the figures as JSON")
    return p


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    try:
        if args.json:
            check_output_file(args.json, "--json")
        gt = load_ytvis_gt(args.gt)
        res = load_ytvis_results(args.results)
        ev = YTVISeval(gt, res, class_agnostic=args.class_agnostic, results_source=args.results)
    except (DatasetFormatError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if not res:
        print(
            f"note: {args.results} holds no tracks ([]): every AP/AR below is 0 (-1 where the ground truth has "
            "no object of that size); was the model's output empty?"
        )
    elif not gt["tracks"]:
        print(f"note: {args.gt} holds no ground-truth track: the figures are -1 (undefined)")
    figures = ev.run(verbose=True)
    if args.json:
        out = {k: (None if math.isnan(v) else v) for k, v in figures.items()}
        tmp = f"{args.json}.tmp{os.getpid()}"
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(tmp, "w") as f:
            json.dump({"class_agnostic": args.class_agnostic, **out}, f, indent=1)
        os.replace(tmp, args.json)
        print(f"figures saved in {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
