"""Resumable inference of a video model over a registered dataset, writing DAVIS result folders.

``run_on_dataset(model, dataset_name, output_dir)`` streams every video of the dataset through
``model.run_video`` and writes ``output_dir/<video_id>/<frame>.png`` (DAVIS palette PNGs, pixel =
track id), which ``uvmos.evaluation.davis.evaluate_davis`` (and the official toolkit) score.

Atomic and resumable: a video is written into a hidden temporary folder next to its final one and
renamed when complete, then a manifest (``output_dir/.manifests/<video_id>.json``: frame count and
names) proves it complete; a rerun skips exactly the videos whose manifest matches their folder,
redoes any other (e.g. PNGs deleted, killed between rename and manifest), and discards stale
temporary folders of interrupted runs. With a ``fingerprint`` (config + weights + dataset, see
:func:`run_fingerprint`) stored in ``output_dir/uvmos_run.json``, a rerun with other settings is
refused (:class:`OutputMismatchError`) unless ``overwrite=True``, which clears the old results.

Scales out: ``shard=(rank, world_size)`` runs every ``world_size``-th video (the processes of
``tools/run_dataset.py --num-processes N [--num-machines M]``, started by detectron2's ``launch``).
Rank 0 alone prepares the folder (stale temporary folders, fingerprint) before the others start,
and every rank returns the result folders of all videos once all are written. Progress: tqdm bars
over videos and over each video's frames (frames per second and ETA) on rank 0.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence

from detectron2.data import DatasetCatalog
from detectron2.utils import comm
from tqdm import tqdm

from uvmos.data.folder import frame_names, iter_frames
from uvmos.data.io import read_id_map, write_palette_png
from uvmos.data.video_dict import DatasetFormatError
from uvmos.engine.writers import YTVISResultsWriter
from uvmos.utils.file_io import atomic_write_json, replace_folder

__all__ = [
    "run_on_dataset",
    "collect_ytvis_results",
    "YTVIS_FILE",
    "RUN_FILE",
    "run_fingerprint",
    "OutputMismatchError",
    "prepare_output",
]

YTVIS_FILE = "ytvis_results.json"  # per-video YouTube-VIS results inside its result folder
RUN_FILE = "uvmos_run.json"  # fingerprint of the run that wrote an output folder
MANIFEST_DIR = ".manifests"  # <video_id>.json per finished video

logger = logging.getLogger(__name__)


class OutputMismatchError(DatasetFormatError):
    """The output folder holds results of another run (names the folder and what differs)."""


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _config_text(node) -> str:
    from omegaconf import OmegaConf

    def name(x):
        return f"{getattr(x, '__module__', '')}.{getattr(x, '__qualname__', type(x).__name__)}"

    return json.dumps(OmegaConf.to_container(node, resolve=True), sort_keys=True, default=name)


def run_fingerprint(cfg_model, checkpoint: Optional[str], dataset_name: str) -> Dict[str, Any]:
    """What makes two runs' outputs interchangeable: the model config, the weights file's content
    (sha256) and the dataset."""
    return {
        "dataset": dataset_name,
        "model_config_sha256": hashlib.sha256(_config_text(cfg_model).encode()).hexdigest(),
        "weights": os.path.abspath(checkpoint) if checkpoint else None,
        "weights_sha256": _sha256(checkpoint) if checkpoint and os.path.isfile(checkpoint) else None,
    }


def _check_fingerprint(output_dir: str, fingerprint: Dict[str, Any], video_ids, overwrite: bool) -> None:
    path = os.path.join(output_dir, RUN_FILE)
    old = None
    if os.path.isfile(path):
        try:
            with open(path) as f:
                old = json.load(f)
        except (OSError, ValueError):
            old = {"unreadable": True}
    same = old is not None and all(old.get(k) == v for k, v in fingerprint.items() if k != "weights")
    existing = [v for v in video_ids if os.path.isdir(os.path.join(output_dir, v))]
    if not same and (old is not None or existing) and not overwrite:
        if old is None:
            what = f"{len(existing)} video result folders but no {RUN_FILE} (written by an older uvmos?)"
        else:
            diff = [k for k, v in fingerprint.items() if k != "weights" and old.get(k) != v]
            what = f"results of another run ({', '.join(diff)} differ; weights then: {old.get('weights')})"
        raise OutputMismatchError(output_dir, f"holds {what}; use another --output or pass --overwrite to redo them")
    if not same and overwrite:
        for v in existing:
            shutil.rmtree(os.path.join(output_dir, v))
        shutil.rmtree(os.path.join(output_dir, MANIFEST_DIR), ignore_errors=True)
        if existing:
            logger.info("--overwrite: removed %d result folders of an earlier run in %s", len(existing), output_dir)
    atomic_write_json(path, fingerprint)


def _is_complete(final: str, manifest: str, names: List[str], ytvis: bool) -> bool:
    if not os.path.isfile(manifest):
        return False
    try:
        with open(manifest) as f:
            m = json.load(f)
    except (OSError, ValueError):
        return False
    if m.get("frames") != len(names) or m.get("names") != names:
        return False
    if ytvis and not os.path.isfile(os.path.join(final, YTVIS_FILE)):
        return False
    present = set(os.listdir(final))
    return all(n + ".png" in present for n in names)


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


def _limit_ids(folder: str, stems: Sequence[str], max_ids: int = 20) -> None:
    """A DAVIS result folder may hold at most ``max_ids`` ids: more (T-Net caps *active* tracks,
    so a video can see more) are reduced to the largest ones (``keep_largest_ids``), in place."""
    from uvmos.evaluation.davis_io import keep_largest_ids

    paths = [os.path.join(folder, s + ".png") for s in stems]
    maps = [read_id_map(p) for p in paths]
    limited, dropped = keep_largest_ids(maps, max_ids)
    if dropped:
        logger.info("%s: %d track ids, the %d largest written (DAVIS limit)", folder, len(dropped) + max_ids, max_ids)
        for p, m in zip(paths, limited):
            write_palette_png(p, m)


def _segment_video(
    model,
    video: Dict[str, Any],
    names: List[str],
    tmp: str,
    ytvis: bool,
    category_map: Optional[Mapping[int, int]],
    progress: bool = False,
) -> int:
    """Write one video's id-map PNGs (and YouTube-VIS results) into the folder ``tmp``; the frame count."""
    n = max_id = 0
    writer = YTVISResultsWriter() if ytvis else None
    bar = tqdm(
        total=len(names),
        desc=str(video["video_id"]),
        unit="frame",
        leave=False,
        disable=not progress,
        dynamic_ncols=True,
    )
    for _, res in model.run_video((f for _, f in iter_frames(video)), video):
        bar.update(1)
        write_palette_png(os.path.join(tmp, names[res.frame_idx] + ".png"), res.id_map)
        max_id = max(max_id, int(res.id_map.max()))
        if writer is not None:
            writer.add_frame(res.frame_idx, _numpy(res.id_map), res.track_scores, res.track_classes)
        n += 1
    bar.close()
    if max_id > 20:
        _limit_ids(tmp, [names[t] for t in range(n)])
    if writer is not None:
        writer.end_video(video.get("json_video_id", video["video_id"]), video.get("length"), category_map=category_map)
        writer.save(os.path.join(tmp, YTVIS_FILE))
    if n != len(names):
        where = video.get("video_file") or str(video["video_id"])
        raise DatasetFormatError(where, f"{n} frames decoded, {len(names)} expected")
    return n


def _select_videos(
    output_dir: str,
    dataset_name: str,
    videos: Optional[Sequence[str]],
    fingerprint: Optional[Dict[str, Any]],
    overwrite: bool,
    prepare: bool = True,
) -> List[Dict[str, Any]]:
    """The dataset's videos to run (``videos`` subset); with ``prepare``, clears stale temporary
    folders and, with ``overwrite``, the older results."""
    os.makedirs(output_dir, exist_ok=True)
    for stale in os.listdir(output_dir) if prepare else []:
        if stale.startswith(".tmp-"):
            shutil.rmtree(os.path.join(output_dir, stale), ignore_errors=True)
    all_videos = DatasetCatalog.get(dataset_name)
    if videos is not None:
        wanted = set(videos)
        unknown = wanted - {v["video_id"] for v in all_videos}
        if unknown:
            raise KeyError(f"run_on_dataset: videos {sorted(unknown)} are not in {dataset_name}")
        all_videos = [v for v in all_videos if v["video_id"] in wanted]
    ids = [str(v["video_id"]) for v in all_videos]
    if not prepare:
        return all_videos
    if fingerprint is not None:
        _check_fingerprint(output_dir, fingerprint, ids, overwrite)
    elif overwrite:
        for v in ids:
            shutil.rmtree(os.path.join(output_dir, v), ignore_errors=True)
    return all_videos


def prepare_output(
    output_dir: str, dataset_name: str, fingerprint: Optional[Dict[str, Any]] = None, overwrite: bool = False
) -> None:
    """Check (and record) the run's ``fingerprint`` in ``output_dir`` before any process writes to
    it: another run's results are refused unless ``overwrite``, which removes them."""
    _select_videos(output_dir, dataset_name, None, fingerprint, overwrite)


def _is_done(final: str, manifest: str, names: List[str], ytvis: bool, where: str) -> bool:
    """True when the video's folder is complete; else removes what an earlier run left of it."""
    if os.path.isdir(final):
        if _is_complete(final, manifest, names, ytvis):
            logger.info("%s: done already (%d frames), skipped", where, len(names))
            return True
        logger.warning("%s: %s is incomplete or unproven (no matching manifest): redoing it", where, final)
        shutil.rmtree(final)
    if os.path.exists(manifest):
        os.unlink(manifest)
    return False


def _videos_of_run(output_dir, dataset_name, videos, fingerprint, overwrite: bool, rank: int, sync: bool):
    """The videos of the run; rank 0 prepares the folder first (stale temporaries gone, fingerprint
    checked) while the others wait (``sync``: at a barrier of ``detectron2.utils.comm``)."""
    if rank == 0:
        all_videos = _select_videos(output_dir, dataset_name, videos, fingerprint, overwrite)
    if sync:
        comm.synchronize()  # the folder is prepared
    if rank != 0:
        all_videos = _select_videos(output_dir, dataset_name, videos, None, False, prepare=False)
    return all_videos


def _run_video(model, video, output_dir: str, final: str, where: str, ytvis: bool, category_map, show: bool) -> None:
    """Segment one video into a temporary folder, rename it to ``final`` and write its manifest
    (skipped when ``final`` is complete already)."""
    vid = str(video["video_id"])
    manifest = os.path.join(output_dir, MANIFEST_DIR, vid + ".json")
    names = frame_names(video)
    if _is_done(final, manifest, names, ytvis, f"{where} {vid}"):
        return
    tmp = tempfile.mkdtemp(prefix=f".tmp-{vid}-", dir=output_dir)
    try:
        t0 = time.perf_counter()
        n = _segment_video(model, video, names, tmp, ytvis, category_map, progress=show)
        replace_folder(tmp, final)
        atomic_write_json(manifest, {"video_id": vid, "frames": n, "names": names})
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("%s %s: %d frames, %.2f s/frame", where, vid, n, (time.perf_counter() - t0) / max(n, 1))


def run_on_dataset(
    model,
    dataset_name: str,
    output_dir: str,
    videos: Optional[Sequence[str]] = None,
    timer=None,
    ytvis: bool = False,
    category_map: Optional[Mapping[int, int]] = None,
    fingerprint: Optional[Dict[str, Any]] = None,
    overwrite: bool = False,
    shard: Optional[Sequence[int]] = None,
    progress: bool = True,
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
        fingerprint: :func:`run_fingerprint` of this run; another run's results in ``output_dir``
            are refused unless ``overwrite``.
        overwrite: redo every video (removing the older results).
        shard: ``(rank, world_size)``: this process runs videos ``rank::world_size`` (default: the
            ranks of ``detectron2.utils.comm``; all processes must call this function).
        progress: tqdm bars on rank 0.
    Returns:
        {video_id: result folder} for every video of the run (written now or found complete).
    """
    rank, world = (comm.get_rank(), comm.get_world_size()) if shard is None else (int(shard[0]), int(shard[1]))
    all_videos = _videos_of_run(
        output_dir, dataset_name, videos, fingerprint, overwrite, rank, world > 1 and shard is None
    )
    if timer is not None and hasattr(model, "timer"):
        model.timer = timer
    if hasattr(model, "eval"):
        model.eval()
    out = {str(v["video_id"]): os.path.join(output_dir, str(v["video_id"])) for v in all_videos}
    mine = list(enumerate(all_videos))[rank::world]
    show = progress and rank == 0
    for i, video in tqdm(
        mine,
        desc=f"videos (rank 0 of {world})" if world > 1 else "videos",
        unit="video",
        disable=not show,
        dynamic_ncols=True,
    ):
        where = f"[{i + 1}/{len(all_videos)}]"
        _run_video(model, video, output_dir, out[str(video["video_id"])], where, ytvis, category_map, show)
    if world > 1 and shard is None:
        comm.synchronize()  # every video is written
    return out
