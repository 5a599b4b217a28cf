"""Resumable inference of a video model over a registered dataset, writing DAVIS result folders.

``run_on_dataset(model, dataset_name, output_dir)`` streams every video of the dataset through
``model.run_video`` and writes ``output_dir/<video_id>/<frame>.png`` (DAVIS palette PNGs, pixel =
track id), which ``uvmos.evaluation.davis.evaluate_davis`` (and the official toolkit) score.

Atomic and resumable: a video is written into a hidden temporary folder next to its final one and
renamed when complete, so ``output_dir/<video_id>`` exists only for finished videos; a rerun skips
them (and discards stale temporary folders of interrupted runs).
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from typing import Dict, List, Optional, Sequence

from detectron2.data import DatasetCatalog

from uvmos.data.folder import iter_frames
from uvmos.engine.writers import write_palette_png

__all__ = ["run_on_dataset", "frame_names", "VideoListLoader"]

logger = logging.getLogger(__name__)


class VideoListLoader:
    """``build_video_test_loader(dataset_name)`` yielding one-video *lists*, the batch form that
    ``inference_on_dataset`` passes to ``model(inputs)`` and ``evaluator.process(inputs, outputs)``
    (``VideoSegmenter.forward`` returns a list of per-video outputs)."""

    def __init__(self, dataset_name):
        from uvmos.data.build import build_video_test_loader

        self.loader = build_video_test_loader(dataset_name)
        self.dataset_name = dataset_name

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        for video in self.loader:
            yield [video]


def frame_names(video: dict) -> List[str]:
    """Result file stems of a video's frames: the frame files' stems, else ``00000``, ``00001``..."""
    if video.get("file_names"):
        return [os.path.splitext(os.path.basename(f))[0] for f in video["file_names"]]
    return [f"{t:05d}" for t in range(int(video["length"]))]


def run_on_dataset(
    model,
    dataset_name: str,
    output_dir: str,
    videos: Optional[Sequence[str]] = None,
    timer=None,
) -> Dict[str, str]:
    """Segment every video of ``dataset_name`` (a DatasetCatalog entry of video dicts) with
    ``model`` (a ``VideoSegmenter`` or anything with ``run_video(frames, video)``) and write DAVIS
    result folders under ``output_dir``.

    Args:
        videos: optional subset of video ids.
        timer: optional ``PartTimer`` to install on the model for this run (per-part s/frame).
    Returns:
        {video_id: result folder} for every video of the run (written now or found complete).
    """
    os.makedirs(output_dir, exist_ok=True)
    for stale in os.listdir(output_dir):
        if stale.startswith(".tmp-"):
            shutil.rmtree(os.path.join(output_dir, stale), ignore_errors=True)
    all_videos = DatasetCatalog.get(dataset_name)
    if videos is not None:
        wanted = set(videos)
        unknown = wanted - {v["video_id"] for v in all_videos}
        if unknown:
            raise KeyError(f"run_on_dataset: videos {sorted(unknown)} are not in {dataset_name}")
        all_videos = [v for v in all_videos if v["video_id"] in wanted]
    if timer is not None and hasattr(model, "timer"):
        model.timer = timer
    if hasattr(model, "eval"):
        model.eval()

    out: Dict[str, str] = {}
    for i, video in enumerate(all_videos):
        vid = str(video["video_id"])
        final = os.path.join(output_dir, vid)
        out[vid] = final
        if os.path.isdir(final):
            logger.info("[%d/%d] %s: done already, skipped", i + 1, len(all_videos), vid)
            continue
        tmp = tempfile.mkdtemp(prefix=f".tmp-{vid}-", dir=output_dir)
        try:
            names = frame_names(video)
            t0 = time.perf_counter()
            n = 0
            for res in model.run_video((f for _, f in iter_frames(video)), video):
                write_palette_png(os.path.join(tmp, names[res["frame_idx"]] + ".png"), res["id_map"])
                n += 1
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        logger.info("[%d/%d] %s: %d frames, %.2f s/frame", i + 1, len(all_videos), vid, n,
                    (time.perf_counter() - t0) / max(n, 1))
    return out
