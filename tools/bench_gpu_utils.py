"""The measurements of tools/bench_gpu.py: precisions (autocast contexts), the timed runs (D-Net,
T-Net, the pipeline, T-Net's features), the batch-norm recalibration of random weights, per-part
statistics and the recorder that runs, times and saves one run at a time (a helper module, not a tool).
"""

import contextlib
import sys
import time
import traceback

import torch


# ---------------------------------------------------------------------------------------- precisions
def amp_context(device, precision):

    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision.split("-")[0])
    if dtype is None:
        return contextlib.nullcontext
    return lambda: torch.autocast(device_type=device.type, dtype=dtype)


class ControlledProposer(torch.nn.Module):
    """Wraps the real proposer (its time is the ``proposal`` part) and hands the associator the
    controlled proposals of the frame instead of the proposer's instances."""

    def __init__(self, proposer, proposals, amp):
        super().__init__()
        self.inner = proposer
        self.test_size = getattr(proposer, "test_size", None)
        self.proposals = proposals
        self.amp = amp

    def forward(self, batched_inputs):
        with self.amp():
            outs = self.inner(batched_inputs)
        res = []
        for x, o in zip(batched_inputs, outs):
            o = dict(o, instances=self.proposals[int(x["frame_idx"])])
            if "features" in o:  # half features from an autocast proposer: fp32 for the associator
                o["features"] = {k: v.float() for k, v in o["features"].items()}
            res.append(o)
        return res


# ---------------------------------------------------------------------------------------- runs
def frame_input(frames, masks_t, t, device, prev_image):
    import numpy as np

    f = frames[t]
    image = torch.from_numpy(np.ascontiguousarray(f.transpose(2, 0, 1))).to(device)
    inp = {"image": image, "height": f.shape[0], "width": f.shape[1], "video_id": "bench", "frame_idx": t}
    if prev_image is not None:
        inp["prev_image"] = prev_image
        inp["prev_mask"] = masks_t[t - 1]
    return inp


def run_pipeline(model, frames, proposals, amp_all, amp_dnet, n):
    from uvmos.evaluation.timing import PartTimer

    inner = model.proposer
    timer = PartTimer()
    model.proposer = ControlledProposer(inner, proposals, amp_dnet)
    model.timer = timer
    per_frame = []
    try:
        with amp_all():
            seen, fs = {}, 0.0
            for _ in model.run_video(iter(frames[:n]), {"video_id": "bench"}):
                rec = {k: v - seen.get(k, 0.0) for k, v in timer.seconds.items()}
                rec["frame"] = timer.frame_seconds - fs
                seen, fs = dict(timer.seconds), timer.frame_seconds
                per_frame.append(rec)
    finally:
        model.proposer, model.timer = inner, None
    return [{"dnet": r.get("proposal", 0.0), "tnet": r.get("association", 0.0), "total": r["frame"]} for r in per_frame]


def run_dnet(model, frames, unions, amp_dnet, cache):

    from uvmos.evaluation.timing import PartTimer

    timer, per_frame, prev, n_props, nonfinite = PartTimer(), [], None, [], 0
    device = model.device
    for t in range(len(frames)):
        inp = frame_input(frames, unions, t, device, prev)
        before = timer.seconds.get("dnet", 0.0)
        with timer.part("dnet"), amp_dnet():
            out = model.proposer([inp])[0]
        per_frame.append({"dnet": timer.seconds["dnet"] - before})
        n_props.append(len(out["instances"]))
        fg = out.get("foreground")
        if fg is not None and not bool(torch.isfinite(fg).all()):
            nonfinite += 1
        if cache is not None:
            cache.append(
                {
                    k: ({n: f.float().cpu() for n, f in v.items()} if k == "features" else v.float().cpu())
                    for k, v in out.items()
                    if k in ("features", "foreground")
                }
            )
        prev = inp["image"]
    return per_frame, {"proposals_per_frame": sum(n_props) / max(len(n_props), 1), "nonfinite_frames": nonfinite}


def run_tnet(model, frames, unions, proposals, cache, amp_all):
    from uvmos.evaluation.timing import PartTimer

    timer, per_frame, prev, ntracks = PartTimer(), [], None, []
    device = model.device
    assoc = model.associator
    with amp_all():
        assoc.reset({"video_id": "bench"})
        for t in range(len(frames)):
            inp = frame_input(frames, unions, t, device, prev)
            props = {"instances": proposals[t]}
            for k, v in cache[t].items():
                props[k] = {n: f.to(device) for n, f in v.items()} if k == "features" else v.to(device)
            before = timer.seconds.get("tnet", 0.0)
            with timer.part("tnet"):
                res = assoc.step(inp, props)
            per_frame.append({"tnet": timer.seconds["tnet"] - before})
            ntracks.append(len(res.get("track_scores", {})))
            prev = inp["image"]
    return per_frame, {"visible_tracks_per_frame": sum(ntracks) / max(len(ntracks), 1)}


def run_tnet_features(model, frames, unions, cache):
    from uvmos.evaluation.timing import PartTimer

    feats = getattr(model.associator, "features", None)
    timer, per_frame, device = PartTimer(), [], model.device
    for t in range(len(frames)):
        inp = frame_input(frames, unions, t, device, None)
        props = {
            k: ({n: f.to(device) for n, f in v.items()} if k == "features" else v.to(device))
            for k, v in cache[t].items()
        }
        before = timer.seconds.get("tnet_features", 0.0)
        with timer.part("tnet_features"):
            feats(inp, props)
        per_frame.append({"tnet_features": timer.seconds["tnet_features"] - before})
    return per_frame, {"features": type(feats).__name__}


# ---------------------------------------------------------------------------------------- random weights
def recalibrate_norms(model, run_one_frame) -> int:
    """Random weights only: set each batch norm's running mean/var to its input's statistics during
    ``run_one_frame()`` (forward pre-hooks, so every layer sees already-calibrated inputs)."""
    from detectron2.layers import FrozenBatchNorm2d

    def pre(mod, inputs):
        x = inputs[0]
        if x.dim() != 4 or x.shape[0] * x.shape[2] * x.shape[3] < 2:
            return  # 1x1 pooled branches: no spatial statistics
        xf = x.detach().float().transpose(0, 1).flatten(1)
        mod.running_mean.copy_(xf.mean(1))
        mod.running_var.copy_(xf.var(1).clamp(min=1e-4))

    norms = [
        m
        for m in model.modules()
        if isinstance(m, (torch.nn.modules.batchnorm._BatchNorm, FrozenBatchNorm2d))
        and getattr(m, "running_mean", None) is not None
    ]
    hooks = [m.register_forward_pre_hook(pre) for m in norms]
    try:
        run_one_frame()
    finally:
        for h in hooks:
            h.remove()
    return len(norms)


def calibration_pass(model, frames, unions, proposals):
    """Frame 0 through the whole pipeline (fp32); if that fails, through D-Net and T-Net's
    feature module, so the runs that can work still get calibrated weights."""
    try:
        run_pipeline(model, frames, proposals, contextlib.nullcontext, contextlib.nullcontext, 1)
    except Exception:
        print(f"[bench_gpu] calibration through the pipeline failed:\n{traceback.format_exc(limit=6)}", file=sys.stderr)
        cache = []
        run_dnet(model, frames[:1], unions, contextlib.nullcontext, cache)
        if isinstance(getattr(model.associator, "features", None), torch.nn.Module):
            run_tnet_features(model, frames[:1], unions, cache)


# ---------------------------------------------------------------------------------------- statistics
def stats(per_frame):
    """ms/frame per part: mean over all frames, mean over frames 1.., median, p90, frame 0."""
    import numpy as np

    out = {}
    for part in per_frame[0]:
        ms = np.array([1000.0 * r[part] for r in per_frame])
        rest = ms[1:] if len(ms) > 1 else ms
        out[part] = {
            "mean_ms": round(float(ms.mean()), 2),
            "mean_ms_after_first": round(float(rest.mean()), 2),
            "median_ms": round(float(np.median(ms)), 2),
            "p90_ms": round(float(np.percentile(ms, 90)), 2),
            "first_frame_ms": round(float(ms[0]), 2),
        }
    return out


# ---------------------------------------------------------------------------------------- recorder
class RunRecorder:
    """``record(precision, name, fn)``: runs ``fn() -> (per-frame seconds, extra figures)`` once,
    appends its entry (statistics, peak GPU memory, wall time, or its error) to ``result["runs"]``
    and rewrites the JSON ``output``; returns the per-frame seconds (None when it failed or was
    skipped). A run that would likely end past ``time_limit`` s after ``t_start`` (elapsed + the
    longest run so far) is skipped."""

    def __init__(self, result, output, device, time_limit, t_start):
        self.result, self.output, self.device = result, output, device
        self.time_limit, self.t_start = time_limit, t_start
        self.longest = 0.0  # the longest run so far

    def __call__(self, precision, name, fn):
        from uvmos.utils.file_io import atomic_write_json

        result, device = self.result, self.device
        if time.time() - self.t_start + self.longest > self.time_limit:
            result["runs"].append({"precision": precision, "run": name, "error": "skipped: --time-limit"})
            atomic_write_json(self.output, result)
            print(f"[bench_gpu] {precision}/{name} skipped (--time-limit {self.time_limit:.0f} s)")
            return None
        if device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
        entry = {"precision": precision, "run": name}
        t0 = time.time()
        per_frame = self._measure(entry, fn)
        entry["wall_s"] = round(time.time() - t0, 2)
        self.longest = max(self.longest, entry["wall_s"])
        result["runs"].append(entry)
        atomic_write_json(self.output, result)
        if "stats" in entry:
            print(
                f"[bench_gpu] {precision:>9s} {name:<13s} "
                + ", ".join(
                    f"{k} {v['mean_ms']:.1f} ms ({v['mean_ms_after_first']:.1f} after frame 0)"
                    for k, v in entry["stats"].items()
                )
            )
        return per_frame

    def _measure(self, entry, fn):
        device = self.device
        try:
            per_frame, extra = fn()
            entry.update(stats=stats(per_frame), **extra)
            if device.type == "cuda":
                entry["peak_mem_mib"] = {
                    "allocated": torch.cuda.max_memory_allocated(device) / 2**20,
                    "reserved": torch.cuda.max_memory_reserved(device) / 2**20,
                }
        except Exception:
            entry["error"] = traceback.format_exc(limit=6)
            print(f"[bench_gpu] {entry['precision']}/{entry['run']} FAILED:\n{entry['error']}", file=sys.stderr)
            per_frame = None
        return per_frame
