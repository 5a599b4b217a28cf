"""Data loaders: frame pairs for training (detectron2's train loader), whole videos for inference."""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Union

import numpy as np
import torch.utils.data as torchdata
from detectron2.data import DatasetCatalog, build_detection_train_loader
from detectron2.data.common import DatasetFromList
from detectron2.data.samplers import InferenceSampler
from tabulate import tabulate

from .video_dict import check_video_dict

__all__ = [
    "get_frame_pair_dicts",
    "FramePairDataset",
    "build_frame_pair_train_loader",
    "VideoTestLoader",
    "build_video_test_loader",
    "check_dataset_name",
]

logger = logging.getLogger(__name__)


def _names(dataset_names: Union[str, Sequence[str]]) -> List[str]:
    names = [dataset_names] if isinstance(dataset_names, str) else list(dataset_names)
    if not names:
        raise ValueError("no dataset names given")
    return names


def get_frame_pair_dicts(dataset_names: Union[str, Sequence[str]], only_annotated: bool = True) -> List[Dict[str, Any]]:
    """Flatten registered video datasets into training items ``{"video": video_dict, "frame_idx": t}``.

    Items of one video share the same video dict object (not copies). With ``only_annotated``,
    only frames with ground truth (``annotated`` flag) are items, and videos without ground truth
    are skipped.
    """
    items: List[Dict[str, Any]] = []
    rows = []
    for name in _names(dataset_names):
        videos = DatasetCatalog.get(name)
        n_items, n_videos = len(items), 0
        for v in videos:
            check_video_dict(v, source=f"{name}:{v.get('video_id')}")
            T = v["length"]
            if v.get("annotations") is None:
                flags = [False] * T
            else:
                flags = list(v.get("annotated") or [True] * T)
            used = [t for t in range(T) if flags[t] or not only_annotated]
            n_videos += bool(used)
            items.extend({"video": v, "frame_idx": t} for t in used)
        rows.append([name, n_videos, len(items) - n_items])
        if len(items) == n_items:
            logger.warning("Dataset %s contributes no %sframes", name, "annotated " if only_annotated else "")
    logger.info("Frame-pair items:\n" + tabulate(rows, headers=["dataset", "videos", "frames"], tablefmt="pipe"))
    if not items:
        raise ValueError(f"No {'annotated ' if only_annotated else ''}frames in datasets {list(_names(dataset_names))}")
    return items


class FramePairDataset(torchdata.Dataset):
    """Map-style dataset over frame-pair items that stores each video dict once.

    detectron2's ``DatasetFromList`` would serialise every item, i.e. one copy of the whole video
    per frame; here the videos are serialised once (``DatasetFromList``, so workers share memory)
    and an index array holds (video, frame) pairs.
    """

    def __init__(self, items: Sequence[Dict[str, Any]], serialize: bool = True):
        slot: Dict[int, int] = {}
        videos: List[Dict[str, Any]] = []
        index = np.empty((len(items), 2), dtype=np.int64)
        for i, it in enumerate(items):
            key = id(it["video"])
            if key not in slot:
                slot[key] = len(videos)
                videos.append(it["video"])
            index[i] = (slot[key], int(it["frame_idx"]))
        self._videos = DatasetFromList(videos, copy=False, serialize=serialize)
        self._index = index

    def __len__(self) -> int:
        return len(self._index)

    def __getitem__(self, i: int) -> Dict[str, Any]:
        v, t = self._index[i]
        return {"video": self._videos[int(v)], "frame_idx": int(t)}


def build_frame_pair_train_loader(
    dataset_names: Union[str, Sequence[str]],
    mapper: Callable[[Dict[str, Any]], Any],
    total_batch_size: int,
    num_workers: int = 0,
    sampler: Optional[torchdata.Sampler] = None,
    only_annotated: bool = True,
    aspect_ratio_grouping: bool = False,
    collate_fn: Optional[Callable] = None,
):
    """Infinite training loader of mapped frame pairs (a list of ``total_batch_size / world`` dicts).

    Built with detectron2's ``build_detection_train_loader`` (``TrainingSampler`` sharded over DDP
    ranks), so it works from a LazyConfig: ``L(build_frame_pair_train_loader)(dataset_names=[...],
    mapper=L(FramePairMapper)(...), total_batch_size=...)``.
    """
    dataset = FramePairDataset(get_frame_pair_dicts(dataset_names, only_annotated=only_annotated))
    return build_detection_train_loader(
        dataset,
        mapper=mapper,
        sampler=sampler,
        total_batch_size=total_batch_size,
        aspect_ratio_grouping=aspect_ratio_grouping,
        num_workers=num_workers,
        collate_fn=collate_fn,
    )


class VideoTestLoader:
    """Iterates over whole videos (this DDP rank's share, ``InferenceSampler`` order), one video per
    step, always as a one-video list ``[video_dict]``: detectron2's batch form, which
    ``inference_on_dataset`` passes to ``model(inputs)`` and ``evaluator.process(inputs, outputs)``.

    Frames are not decoded here: the consumer streams them with :func:`uvmos.data.folder.iter_frames`.
    """

    def __init__(self, videos: Sequence[Dict[str, Any]]):
        self.videos = list(videos)
        self._indices = list(iter(InferenceSampler(len(self.videos)))) if self.videos else []

    def __len__(self) -> int:
        return len(self._indices)

    def __iter__(self) -> Iterator[List[Dict[str, Any]]]:
        for i in self._indices:
            yield [self.videos[i]]


def build_video_test_loader(dataset_name: Union[str, Sequence[str]]) -> VideoTestLoader:
    """Loader yielding the whole videos of one (or several) registered datasets, one ``[video_dict]``
    per step (:class:`VideoTestLoader`)."""
    videos: List[Dict[str, Any]] = []
    for name in _names(dataset_name):
        vs = DatasetCatalog.get(name)
        for v in vs:
            check_video_dict(v, source=f"{name}:{v.get('video_id')}")
        videos.extend(vs)
    return VideoTestLoader(videos)


def check_dataset_name(name: str, flag: str = "dataset") -> None:
    """Fail with one line when ``name`` is not a registered dataset (suggesting the closest) or its
    files are not where its registration says (naming the path and ``$UVMOS_DATASETS``)."""
    import difflib
    import os

    from detectron2.data import MetadataCatalog

    from .video_dict import DatasetFormatError

    registered = DatasetCatalog.list()
    root_env = os.environ.get("UVMOS_DATASETS", "./datasets")
    if name not in registered:
        close = difflib.get_close_matches(name, registered, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise DatasetFormatError(
            None,
            f"{flag} {name!r}: unknown dataset; {hint}(tools/list_components.py lists them; "
            f"built-in ones are read from UVMOS_DATASETS={root_env})",
        )
    meta = MetadataCatalog.get(name)
    for key in ("json_file", "root"):
        path = getattr(meta, key, None) if key in meta.as_dict() else None
        if path and not os.path.exists(path):
            raise DatasetFormatError(
                path,
                f"{flag} {name}: not found (its {key}; built-in datasets are read from "
                f"UVMOS_DATASETS={root_env}, see docs/datasets.md)",
            )
