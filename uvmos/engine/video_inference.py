"""Resumable inference of a video model over a registered dataset, writing DAVIS result folders.

``run_on_dataset(model, dataset_name, output_dir)`` streams every video of the dataset through
``model.run_video`` and writes ``output_dir/<video_id>/<frame>.png`` (DAVIS palette PNGs, pixel =
track id), which ``uvmos.evaluation.davis.evaluate_davis`` (and the official toolkit) score.

Atomic and resumable: a video is written into a hidden temporary folder next to its final one and
renamed when complete, so ``output_dir/<video_id>`` exists only for finished videos; a rerun skips
them (and discards stale temporary folders of interrupted runs).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence

from detectron2.data import DatasetCatalog

from uvmos.data.folder import frame_stems, iter_frames
from uvmos.engine.writers import YTVISResultsWriter, write_palette_png

__all__ = ["run_on_dataset", "collect_ytvis_results", "frame_names", "VideoListLoader", "YTVIS_FILE"]

YTVIS_FILE = "ytvis_results.json"  # per-video YouTube-VIS results inside its result folder

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


def _numpy(x):
    return x.detach().cpu().numpy() if hasattr(x, "detach") else x


def collect_ytvis_results(result_dirs: Mapping[str, str]) -> List[Dict[str, Any]]:
    """The per-video YouTube-VIS results written by ``run_on_dataset(..., ytvis=True)`` as one list
    (the evaluation server's ``results.json``), in the order of ``result_dirs``."""
    out: List[Dict[str, Any]] = []
    for vid, folder in result_dirs.items():
        path = os.path.join(folder, YTVIS_FILE)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"{path}: missing; video {vid} was segmented without YouTube-VIS output. Delete {folder} to redo it"
            )
        with open(path) as f:
            out.extend({k: v for k, v in r.items() if k != "track_id"} for r in json.load(f))
    return out


def frame_names(video: dict) -> List[str]:
    """Result file stems of a video's frames: the frame files' stems, else ``00000``, ``00001``..."""
    if video.get("file_names"):
        return frame_stems(video["file_names"])
    return [f"{t:05d}" for t in range(int(video["length"]))]


def run_on_dataset(
    model,
    dataset_name: str,
    output_dir: str,
    videos: Optional[Sequence[str]] = None,
    timer=None,
    ytvis: bool = False,
    category_map: Optional[Mapping[int, int]] = None,
) -> Dict[str, str]:
    """Segment every video of ``dataset_name`` (a DatasetCatalog entry of video dicts) with
    ``model`` (a ``VideoSegmenter`` or anything with ``run_video(frames, video)``) and write DAVIS
    result folders under ``output_dir``.

    Args:
        videos: optional subset of video ids.
        timer: optional ``PartTimer`` to install on the model for this run (per-part s/frame).
        ytvis: also write each video's tracks as YouTube-VIS results (``YTVIS_FILE`` in its folder,
            ``video_id`` = the JSON's ``json_video_id`` when the dataset has one; gather them with
            :func:`collect_ytvis_results`); the tracker's contiguous classes are mapped through
            ``category_map`` (e.g. the inverse of ``thing_dataset_id_to_contiguous_id``), else + 1.
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
            writer = YTVISResultsWriter() if ytvis else None
            for res in model.run_video((f for _, f in iter_frames(video)), video):
                write_palette_png(os.path.join(tmp, names[res["frame_idx"]] + ".png"), res["id_map"])
                if writer is not None:
                    writer.add_frame(res["frame_idx"], _numpy(res["id_map"]), res.get("track_scores"),
                                     res.get("track_classes"))
                n += 1
            if writer is not None:
                writer.end_video(video.get("json_video_id", video["video_id"]), video.get("length"),
                                 category_map=category_map)
                writer.save(os.path.join(tmp, YTVIS_FILE))
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        logger.info("[%d/%d] %s: %d frames, %.2f s/frame", i + 1, len(all_videos), vid, n,
                    (time.perf_counter() - t0) / max(n, 1))
    return out
