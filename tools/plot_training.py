#!/usr/bin/env python
"""Training curves of detectron2 runs (their ``metrics.json``) in one figure, for the docs.

    python tools/plot_training.py output/dnet_tiny_cpu output/dnet_tiny_cpu_wo_sgm \
        --labels "D-Net" "D-Net w/o SGM" --out docs/images/dnet_tiny_training.png

One panel per loss (``total_loss`` and every ``loss_*`` the runs logged), against iterations, on a
log scale; the legend gives each run's final evaluation figure (``--metric``, e.g. frame_ap/AP) and
its CPU-minutes when logged. The same scalars are in each run's TensorBoard events file.
"""

import argparse
import json
import sys
from pathlib import Path


def read_metrics(run: str):
    """A run directory or its metrics.json -> list of the JSON lines (dicts)."""
    path = Path(run) / "metrics.json" if Path(run).is_dir() else Path(run)
    if not path.is_file():
        raise SystemExit(f"error: {path}: no metrics.json (is {run} a detectron2 output directory?)")
    rows = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise SystemExit(f"error: {path}:{n}: not a JSON line ({e})") from None
    if not rows:
        raise SystemExit(f"error: {path}: empty")
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="output directories (or metrics.json files)")
    p.add_argument("--labels", nargs="*", default=None)
    p.add_argument("--metric", default="frame_ap/AP", help="evaluation scalar quoted in the legend")
    p.add_argument("--smooth", type=int, default=5, help="moving average over this many logged points")
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    labels = args.labels or [str(r) for r in args.runs]
    if len(labels) != len(args.runs):
        raise SystemExit("error: give one --labels entry per run")

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    runs = [read_metrics(r) for r in args.runs]
    keys = ["total_loss"] + sorted({k for rows in runs for r in rows for k in r if k.startswith("loss_")})
    fig, axes = plt.subplots(1, len(keys), figsize=(3.6 * len(keys), 3.2), squeeze=False)
    for rows, label in zip(runs, labels):
        final = [r[args.metric] for r in rows if args.metric in r]
        cpu = [
            r.get("cpu_minutes_final", r.get("cpu_minutes"))
            for r in rows
            if "cpu_minutes" in r or "cpu_minutes_final" in r
        ]
        notes = ([f"{args.metric.split('/')[-1]} {final[-1]:.1f}"] if final else []) + (
            [f"{cpu[-1]:.1f} CPU-min"] if cpu else []
        )
        tag = f"{label} ({', '.join(notes)})" if notes else label
        for ax, k in zip(axes[0], keys):
            pts = [(r["iteration"], r[k]) for r in rows if k in r]
            if not pts:
                continue
            it, v = map(np.asarray, zip(*pts))
            if args.smooth > 1 and len(v) > args.smooth:
                v = np.convolve(v, np.ones(args.smooth) / args.smooth, mode="valid")
                it = it[args.smooth - 1 :]
            ax.plot(it, v, label=tag, linewidth=1.2)
    for ax, k in zip(axes[0], keys):
        ax.set_title(k)
        ax.set_yscale("log")
        ax.set_xlabel("iteration")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    from uvmos.utils.file_io import atomic_save_figure

    atomic_save_figure(args.out, fig, dpi=110)
    print(f"saved {args.out}")


if __name__ == "__main__":
    sys.exit(main())
