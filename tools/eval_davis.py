#!/usr/bin/env python
"""DAVIS-2017 J&F of a results folder, as the official davis2017-evaluation script (docs/evaluation.md).

    python tools/eval_davis.py --davis_path ROOT --set val --task unsupervised --results_path DIR \
        [--output_dir DIR] [--json FILE] [--sequences a,b] [--num-workers N] \
        [--void {exclude,background}] [--ignore-extra-ids] [--objects {first_frame,all}]

ROOT: a DAVIS root (ImageSets/2017/<set>.txt, Annotations[_unsupervised]/480p/<seq>/*.png; no
JPEGImages needed), a root without ImageSets (all annotation sequence folders), or directly a
folder of sequence folders of PNGs (another method's results as ground truth). DIR:
<seq>/<frame>.png id maps. Writes global_results-<set>.csv and per-sequence_results-<set>.csv
(as the official script) into --output_dir (default: --results_path), and with --json FILE the
global figures and per-object {"<seq>_<k>": {"J": .., "F": ..}}. Unlike the official script,
existing CSVs are recomputed, not reused. ``--objects all`` scores every object of any frame, not
only those of the first frame (the official rule, and the default except on a root written by
tools/make_synthetic.py, where "all" is the default); a note lists any object left out.
"""

import argparse
import os
import sys
import time
from concurrent.futures.process import BrokenProcessPool

from uvmos.data.video_dict import DatasetFormatError
from uvmos.evaluation.davis import evaluate_davis
from uvmos.evaluation.davis_sequence import OBJECT_MODES, TASKS
from uvmos.utils.config import ConfigError, check_output_dir, check_output_file


def get_parser():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--davis_path", required=True, help="DAVIS root or folder of ground-truth sequence folders")
    p.add_argument("--set", default="val", help="image set (default: %(default)s)")
    p.add_argument(
        "--task", default="semi-supervised", choices=TASKS, help="default: %(default)s (as the official script)"
    )
    p.add_argument("--results_path", required=True, help="folder of <seq>/<frame>.png result id maps")
    p.add_argument("--output_dir", default=None, help="where the CSVs go (default: --results_path)")
    p.add_argument("--json", default=None, metavar="FILE", help="also write global and per-object figures as JSON")
    p.add_argument("--sequences", default=None, help="comma-separated subset of sequences")
    p.add_argument("--num-workers", type=int, default=None, help="processes over sequences (default: all cores)")
    p.add_argument(
        "--void",
        choices=("exclude", "background"),
        default="exclude",
        help="void (255) ground-truth pixels: excluded (default) or background "
        "(the official code's effective behaviour)",
    )
    p.add_argument(
        "--ignore-extra-ids",
        action="store_true",
        help="semi-supervised: ignore result ids above the number of objects instead of failing",
    )
    p.add_argument(
        "--max-proposals", type=int, default=20, help="unsupervised: allowed result ids (default: %(default)s)"
    )
    p.add_argument(
        "--objects",
        choices=OBJECT_MODES,
        default=None,
        help="objects scored: first_frame (official: ids up to the largest id of frame 0) or all "
        "(every id of any frame); default: all for a synthetic root (manifest.json), else first_frame",
    )
    p.add_argument("--quiet", action="store_true", help="do not print the per-sequence table")
    return p


def main(argv=None) -> int:
    args = get_parser().parse_args(argv)
    start = time.time()
    try:  # unwritable outputs fail now, not after the evaluation
        if args.output_dir:
            check_output_dir(args.output_dir, "--output_dir")
        elif os.path.isdir(args.results_path):  # a missing results folder is reported by the evaluation
            check_output_dir(args.results_path, "--results_path (where the CSVs go without --output_dir)")
        if args.json:
            check_output_file(args.json, "--json")
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.num_workers is not None and args.num_workers < 1:
        print(f"error: --num-workers {args.num_workers}: must be at least 1", file=sys.stderr)
        return 2
    print(f"Evaluating sequences for the {args.task} task...")
    try:
        result = evaluate_davis(
            args.davis_path,
            args.results_path,
            args.task,
            subset=args.set,
            sequences=args.sequences.split(",") if args.sequences else None,
            void=args.void,
            extra_ids="ignore" if args.ignore_extra_ids else "error",
            max_proposals=args.max_proposals,
            num_workers=args.num_workers,
            objects=args.objects,
        )
    except DatasetFormatError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except BrokenProcessPool as e:  # a worker died (e.g. out of memory): never a hang
        print(f"error: an evaluation worker died ({e}); retry with --num-workers 1", file=sys.stderr)
        return 2
    for note in result.notes:
        print(f"note: {note}")
    out_dir = args.output_dir or args.results_path
    try:
        g, s = result.write_csvs(out_dir)
    except OSError as e:
        print(f"error: cannot write the CSVs into {out_dir} ({e}); use --output_dir", file=sys.stderr)
        return 2
    print(f"Global results saved in {g}")
    print(f"Per-sequence results saved in {s}")
    if args.json:
        result.write_json(args.json)
        print(f"JSON results saved in {args.json}")
    table = result.format_tables()
    print(table if not args.quiet else table.split("\n\n")[0])
    print(f"\nTotal time: {time.time() - start:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
