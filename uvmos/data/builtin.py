"""Built-in datasets, registered (lazily) in detectron2's ``DatasetCatalog`` on ``import uvmos``.

Roots live under ``$UVMOS_DATASETS`` (default ``./datasets``), like ``DETECTRON2_DATASETS``::

    $UVMOS_DATASETS/
      DAVIS/           DAVIS-2017 trainval + test-dev (JPEGImages/480p, Annotations/480p,
                       Annotations_unsupervised/480p, ImageSets/2017/{train,val,test-dev}.txt)
      DAVIS2016/       DAVIS-2016 (JPEGImages/480p, Annotations/480p 0/255, ImageSets/480p/{train,val}.txt)
      ytvis_2019/      train.json valid.json train/JPEGImages valid/JPEGImages
      ytvis_2021/      train/instances.json train/JPEGImages valid/instances.json valid/JPEGImages
      uvmos_synth/     the synthetic benchmark (DAVIS layout + ytvis/{train,val,test}.json)
      uvmos_synth_hard/  its hard preset (tools/make_synthetic.py --preset hard), splits train, val,
                       test and test_seed1/test_seed2 (the test split from generator seeds 1, 2)

``davis2016_shared_{train,val}`` read the real DAVIS-2016 sequences of the developers' workspace (18: 16 train, 2 val)
(``$UVMOS_SHARED_DATA/davis2016``, default ``<repo>/../shared/data/davis2016``).

Nothing is read at registration: a loader runs when ``DatasetCatalog.get(name)`` is called, so a
missing dataset fails only when used, with its path in the message. Metadata keys:
``evaluator_type`` ("davis" | "ytvis" | None), ``root``/``json_file``/``image_root``, ``image_set``,
``annotations``, ``protocol`` ("unsupervised" | "semi-supervised" | "vis"), ``thing_classes``,
``thing_dataset_id_to_contiguous_id``, ``ignore_label`` (255), ``eval_objects`` ("all" on the
synthetic sets: every object of any frame is scored; unset = the official DAVIS rule, see
:func:`uvmos.evaluation.davis.evaluate_davis`).
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any, Callable, Dict, Optional, Sequence

from detectron2.data import DatasetCatalog, MetadataCatalog

from .davis import load_davis_videos
from .folder import load_video_source
from .ytvis import YTVIS_2019_CATEGORIES, YTVIS_2021_CATEGORIES, load_ytvis_json, ytvis_category_metadata

__all__ = [
    "register_davis",
    "register_ytvis",
    "register_video_folder",
    "register_all",
    "shared_data_root",
    "SYNTH_SPLITS",
    "SYNTH_HARD_SPLITS",
]

SYNTH_SPLITS = ("train", "val", "test")
SYNTH_HARD_SPLITS = ("train", "val", "test", "test_seed1", "test_seed2")
_DAVIS_META = {"thing_classes": ["object"], "thing_dataset_id_to_contiguous_id": {0: 0}}


def _register(name: str, loader: Callable[[], Any], **metadata: Any) -> None:
    """(Re-)register ``name``: a second call with the same name replaces the first (new root)."""
    if name in DatasetCatalog.list():
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    DatasetCatalog.register(name, loader)
    MetadataCatalog.get(name).set(ignore_label=255, **{k: v for k, v in metadata.items() if v is not None})


def register_davis(
    name: str,
    root: str,
    image_set: Optional[str],
    protocol: str = "unsupervised",
    evaluator_type: str = "davis",
    eval_objects: Optional[str] = None,
    **kwargs: Any,
) -> None:
    """Register a DAVIS-layout split. ``kwargs`` that :func:`uvmos.data.davis.load_davis_videos`
    takes (``annotations``, ``resolution``, ``binary``, ``year``, ``annotated_frames``, ...) go to
    it and, with their defaults, into the metadata; the others are metadata only.

    ``eval_objects="all"``: DAVIS evaluation scores every object of any frame, not only those of
    frame 0 (official rule); set as metadata and as each video dict's ``eval_objects`` key, so
    ``evaluate_davis(DatasetCatalog.get(name), ...)`` picks it up too.
    """
    params = inspect.signature(load_davis_videos).parameters
    kw = {k: kwargs.pop(k, p.default) for k, p in params.items() if k not in ("root", "image_set")}
    meta = {**_DAVIS_META, **kwargs}

    def load():
        videos = load_davis_videos(root, image_set, **kw)
        if eval_objects is not None:
            for v in videos:
                v["eval_objects"] = eval_objects
        return videos

    _register(
        name,
        load,
        evaluator_type=evaluator_type,
        root=root,
        image_set=image_set,
        protocol=protocol,
        eval_objects=eval_objects,
        **kw,
        **meta,
    )


def register_ytvis(
    name: str,
    json_file: str,
    image_root: str,
    categories: Optional[Sequence[Dict[str, Any]]] = None,
    evaluator_type: str = "ytvis",
    **metadata: Any,
) -> None:
    """Register a YouTube-VIS / CocoVID JSON (see :func:`uvmos.data.ytvis.load_ytvis_json`).

    ``categories`` (``[{"id", "name"}]``) sets the class metadata at registration time, before the
    JSON is read; loading then checks that the JSON agrees. Without it the JSON defines them.
    """
    cat_meta = ytvis_category_metadata(categories) if categories else {}
    _register(
        name,
        lambda: load_ytvis_json(json_file, image_root, dataset_name=name, extra_categories=categories),
        evaluator_type=evaluator_type,
        json_file=json_file,
        image_root=image_root,
        protocol="vis",
        **cat_meta,
        **metadata,
    )


def register_video_folder(name: str, path: str, **metadata: Any) -> None:
    """Register one inference source (video file, frame folder or glob) as a 1-video dataset."""
    _register(name, lambda: [load_video_source(path)], evaluator_type=None, root=path, **metadata)


def shared_data_root() -> str:
    """``$UVMOS_SHARED_DATA`` or ``<repo>/../shared/data`` (the developers' real data)."""
    repo = Path(__file__).resolve().parents[2]
    return os.environ.get("UVMOS_SHARED_DATA", str(repo.parent / "shared" / "data"))


def _register_davis_sets(root: str) -> None:
    """DAVIS-2017 (semi-supervised and unsupervised annotations) and DAVIS-2016."""
    davis = os.path.join(root, "DAVIS")
    for split in ("train", "val", "test-dev"):
        register_davis(
            f"davis2017_{split}",
            davis,
            split,
            annotations="Annotations",
            annotated_frames="first" if split == "test-dev" else "all",
            protocol="semi-supervised",
        )
    for split in ("train", "val"):
        register_davis(f"davis2017_unsup_{split}", davis, split, annotations="Annotations_unsupervised")
    for split in ("train", "val"):
        register_davis(f"davis2016_{split}", os.path.join(root, "DAVIS2016"), split, binary=True, year="2016")


def _register_ytvis_sets(root: str) -> None:
    """YouTube-VIS 2019 and 2021."""
    y19 = os.path.join(root, "ytvis_2019")
    register_ytvis(
        "ytvis_2019_train",
        os.path.join(y19, "train.json"),
        os.path.join(y19, "train/JPEGImages"),
        categories=YTVIS_2019_CATEGORIES,
    )
    register_ytvis(
        "ytvis_2019_val",
        os.path.join(y19, "valid.json"),
        os.path.join(y19, "valid/JPEGImages"),
        categories=YTVIS_2019_CATEGORIES,
    )
    y21 = os.path.join(root, "ytvis_2021")
    for split, folder in (("train", "train"), ("val", "valid")):
        register_ytvis(
            f"ytvis_2021_{split}",
            os.path.join(y21, folder, "instances.json"),
            os.path.join(y21, folder, "JPEGImages"),
            categories=YTVIS_2021_CATEGORIES,
        )


def _register_synthetic_sets(root: str) -> None:
    """The synthetic benchmark and its hard preset, as DAVIS and as YouTube-VIS datasets."""
    # Synthetic benchmark (uvmos/data/synthetic.py writes it): the folder name "480p" is kept
    # whatever resolution the generator used, so one layout serves every size.
    # Objects may enter after frame 0, so every object is scored (eval_objects="all").
    for folder, ytvis_prefix, splits in (
        ("uvmos_synth", "uvmos_synth_ytvis", SYNTH_SPLITS),
        ("uvmos_synth_hard", "uvmos_synth_hard_ytvis", SYNTH_HARD_SPLITS),
    ):
        synth = os.path.join(root, folder)
        for split in splits:
            register_davis(f"{folder}_{split}", synth, split, synthetic=True, eval_objects="all")
            register_ytvis(
                f"{ytvis_prefix}_{split}",
                os.path.join(synth, "ytvis", f"{split}.json"),
                os.path.join(synth, "JPEGImages", "480p"),
                synthetic=True,
            )


def _register_shared_sets(shared: str) -> None:
    """The real data of the developers' workspace (:func:`shared_data_root`)."""
    for split in ("train", "val"):
        register_davis(f"davis2016_shared_{split}", os.path.join(shared, "davis2016"), split, binary=True, year="2016")
    register_ytvis(
        "ytvis_2019_shared_sample",
        os.path.join(shared, "ytvis-sample", "instances.json"),
        os.path.join(shared, "ytvis-sample"),
        categories=YTVIS_2019_CATEGORIES,
        has_frames=False,
    )
    register_video_folder("bedroom_shared", os.path.join(shared, "bedroom-video", "frames"))


def register_all(root: Optional[str] = None) -> None:
    """Register every built-in dataset under ``root`` (default ``$UVMOS_DATASETS`` or ./datasets)."""
    if root is None:
        root = os.environ.get("UVMOS_DATASETS", "./datasets")
    root = os.path.expanduser(root)
    _register_davis_sets(root)
    _register_ytvis_sets(root)
    _register_synthetic_sets(root)
    _register_shared_sets(shared_data_root())


register_all()
