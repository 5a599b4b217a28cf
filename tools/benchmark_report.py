"""The report side of tools/benchmark.py (a helper module, not a tool): the markdown of a paper
table from its measured rows, and the speed/accuracy figure (paper Fig. 3) from run or table JSONs.
"""

import json


def markdown_table(kind: str, results: list) -> str:
    if kind == "frame_ap":
        head, keys = ["AP", "AP50", "AP75"], lambda r: [f"{r['frame_ap'][k]:.1f}" for k in ("AP", "AP50", "AP75")]
    elif kind == "jf":
        head = ["J&F", "J", "F", "s/frame"]
        keys = lambda r: (
            [f"{r['davis'][k]:.3f}" for k in ("J&F-Mean", "J-Mean", "F-Mean")] + [f"{r['total_sec_per_frame']:.3f}"]
        )
    else:
        parts = ["proposal", "foreground", "association"]
        head = [f"{p} s/frame" for p in parts] + ["total s/frame", "FPS"]
        keys = lambda r: (
            [f"{r['sec_per_frame'][p]:.3f}" if p in r["sec_per_frame"] else "—" for p in parts]
            + [f"{r['total_sec_per_frame']:.3f}", f"{r['fps']:.2f}"]
        )
    lines = ["| model | " + " | ".join(head) + " | command |", "|---" * (len(head) + 2) + "|"]
    for r in results:
        cells = keys(r) if "not_measured" not in r else [f"not measured: {r['not_measured']}"] + [""] * (len(head) - 1)
        lines.append(f"| {r['name']} | " + " | ".join(cells) + f" | `{r['command']}` |")
    return "\n".join(lines)


def _plot_runs(paths):
    """The runs of run JSONs and of table JSONs (their measured rows) that have a J&F."""
    runs = []
    for p in paths:
        with open(p) as f:
            data = json.load(f)
        rows = data["rows"] if isinstance(data, dict) and "rows" in data else [data]
        for r in rows:
            if "davis" in r:
                runs.append(r)
            elif "not_measured" not in r:
                raise SystemExit(
                    f"error: {p}: run {r.get('name', '?')!r} has no J&F (benchmark a dataset with ground truth)"
                )
    if not runs:
        raise SystemExit(f"error: no run with a J&F in {', '.join(paths)}")
    return runs


def cmd_plot(args) -> None:
    """Fig. 3: J&F against frames per second, one point per pipeline. ``--speed-from`` takes the
    speed of each row from another table (e.g. Table 5 on real 854x480 frames) by row name."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = _plot_runs(args.runs)
    speed, where = {}, f"{runs[0]['dataset']} frames"
    if args.speed_from:
        with open(args.speed_from) as f:
            rows = json.load(f)["rows"]
        speed = {r["name"]: 1.0 / r["total_sec_per_frame"] for r in rows if r.get("total_sec_per_frame")}
        where = f"{rows[0].get('dataset', '?')} frames"
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for r in runs:
        x, y = speed.get(r["name"], None if args.speed_from else r["fps"]), 100 * r["davis"]["J&F-Mean"]
        if x is None:
            print(f"[plot] {r['name']}: no speed in {args.speed_from}, left out")
            continue
        ax.scatter([x], [y], s=60)
        ax.annotate(r["name"], (x, y), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.margins(x=0.15)
    ax.set_xlabel(f"frames per second on {where} (log; CPU, {runs[0].get('threads', '?')} thread(s))")
    ax.set_ylabel(f"J&F mean (%) on {runs[0]['dataset']}")
    ax.set_title(args.title or "Speed / accuracy (measured)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    from uvmos.utils.file_io import atomic_save_figure

    atomic_save_figure(args.out, fig, dpi=120)
    print(f"saved {args.out}")
