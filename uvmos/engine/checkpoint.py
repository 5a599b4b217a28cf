"""Checkpoints that are never half-written, checked when trusted, and never silently random.

* :class:`AtomicCheckpointer` -- detectron2's ``DetectionCheckpointer`` whose ``save`` writes to a
  temporary file that is renamed into place (``last_checkpoint`` too), so a run killed while
  saving leaves the previous checkpoint intact; a checkpoint that cannot be read is a
  :class:`CheckpointError` naming the file, and on ``resume`` an unreadable last checkpoint falls
  back to the newest readable one (``model_final.pth`` -> ``model_0004999.pth`` ...), or is refused.
  Every load logs what matched; a checkpoint of which less than half of the tensors fit the model
  (e.g. a video model's weights loaded into a D-Net config) is an error.
* :class:`AtomicJSONWriter` -- detectron2's ``JSONWriter`` (``metrics.json``) rewritten through a
  temporary file on each write, so the file always holds whole lines.
* :func:`load_inference_weights` -- what the inference tools use: loads ``checkpoint`` and refuses
  a model that would run (partly) with random weights unless ``allow_random`` (paper-free
  choice: a random model gives plausible-looking but meaningless masks).
"""
from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from typing import Any, Dict, List, Optional, Tuple

import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.utils.events import EventWriter, get_event_storage

__all__ = [
    "CheckpointError",
    "AtomicCheckpointer",
    "AtomicJSONWriter",
    "load_inference_weights",
    "random_weight_modules",
    "MIN_MATCHED_FRACTION",
]

logger = logging.getLogger(__name__)

MIN_MATCHED_FRACTION = 0.5  # of the checkpoint's tensors that must fit the model


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and the problem."""


def _replace_atomically(path: str, write_fn) -> None:
    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{os.path.basename(path)}-", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _iteration_of(path: str) -> int:
    m = re.search(r"model_(\d+)\.pth$", path)
    return int(m.group(1)) if m else -1


class AtomicCheckpointer(DetectionCheckpointer):
    """``DetectionCheckpointer`` with atomic saves, checked loads and a verified resume."""

    def __init__(self, *args, min_matched_fraction: float = MIN_MATCHED_FRACTION, **kwargs):
        super().__init__(*args, **kwargs)
        self.min_matched_fraction = min_matched_fraction
        self.last_incompatible = None
        self.loaded_path: Optional[str] = None

    # -- saving -------------------------------------------------------------------------------
    def save(self, name: str, **kwargs: Any) -> None:
        if not self.save_dir or not self.save_to_disk:
            return
        data = {"model": self.model.state_dict()}
        for key, obj in self.checkpointables.items():
            data[key] = obj.state_dict()
        data.update(kwargs)
        basename = f"{name}.pth"
        save_file = os.path.join(self.save_dir, basename)
        self.logger.info("Saving checkpoint to %s", save_file)
        _replace_atomically(save_file, lambda f: torch.save(data, f))
        self.tag_last_checkpoint(basename)

    def tag_last_checkpoint(self, last_filename_basename: str) -> None:
        path = os.path.join(self.save_dir, "last_checkpoint")
        _replace_atomically(path, lambda f: f.write(last_filename_basename.encode()))

    # -- loading ------------------------------------------------------------------------------
    def _load_file(self, filename: str) -> Dict[str, Any]:
        try:
            data = super()._load_file(filename)
        except CheckpointError:
            raise
        except Exception as e:  # truncated zip, pickle garbage, not a checkpoint ...
            raise CheckpointError(f"{filename}: unreadable checkpoint ({type(e).__name__}: {e}); "
                                  "was it written completely?") from None
        if not isinstance(data, dict) or not isinstance(data.get("model"), dict):
            raise CheckpointError(f"{filename}: not a model checkpoint (no 'model' state dict)")
        return data

    def load(self, path: str, checkpointables: Optional[List[str]] = None) -> Dict[str, Any]:
        if path and "://" not in path and not os.path.isfile(path):
            raise CheckpointError(f"{path}: checkpoint file not found")
        self.last_incompatible = None
        self._loading = path
        try:
            out = super().load(path, checkpointables=checkpointables)
        finally:
            self._parsed_url_during_load = None  # detectron2 asserts it is None at the next load
        self.loaded_path = path or None
        return out

    def _load_model(self, checkpoint: Any):
        n_ckpt = len(checkpoint.get("model", {}))
        incompatible = super()._load_model(checkpoint)
        self.last_incompatible = incompatible
        if incompatible is None:
            return incompatible
        n_model = len(self.model.state_dict())
        unused = len(incompatible.unexpected_keys) + len(incompatible.incorrect_shapes)
        path = getattr(self, "_loading", None) or "checkpoint"
        self.logger.info("Loaded %s: %d of its %d tensors used; %d of the model's %d tensors not in it",
                         path, n_ckpt - unused, n_ckpt, len(incompatible.missing_keys), n_model)
        if n_ckpt and (n_ckpt - unused) < self.min_matched_fraction * n_ckpt:
            example = (incompatible.unexpected_keys or [k for k, *_ in incompatible.incorrect_shapes])[:2]
            raise CheckpointError(
                f"{path}: only {n_ckpt - unused} of its {n_ckpt} tensors fit this model (e.g. {example} do not); "
                "is it the checkpoint of another config?"
            )
        return incompatible

    def resume_or_load(self, path: str, *, resume: bool = True) -> Dict[str, Any]:
        """As detectron2's, but the last checkpoint is loaded and checked; an unreadable one is
        skipped for the newest readable ``*.pth`` of the folder (with a warning), else refused."""
        if self.save_dir and os.path.isdir(self.save_dir) and self.save_to_disk:
            for name in os.listdir(self.save_dir):  # temp files of a save killed half-way
                if name.startswith((".tmp-model_", ".tmp-last_checkpoint", ".tmp-metrics.json")):
                    os.unlink(os.path.join(self.save_dir, name))
        if not (resume and self.has_checkpoint()):
            return self.load(path, checkpointables=[])
        last = self.get_checkpoint_file()
        final = os.path.join(self.save_dir, "model_final.pth")
        if os.path.isfile(final) and os.path.abspath(final) != os.path.abspath(last):
            # written after the last tagged checkpoint (e.g. killed before the tag): check it too,
            # so a truncated model_final.pth is not left for --eval-only to trip over
            try:
                self._load_file(final)
            except CheckpointError as e:
                os.replace(final, final + ".corrupt")
                logger.warning("%s (renamed to %s.corrupt; it is rewritten when training finishes)", e, final)
        others = sorted((p for p in self.get_all_checkpoint_files() if os.path.abspath(p) != os.path.abspath(last)),
                        key=lambda p: (_iteration_of(p) if not p.endswith("model_final.pth") else 1 << 62,
                                       os.path.getmtime(p)), reverse=True)
        errors: List[str] = []
        for candidate in ([last] if last else []) + others:
            try:
                out = self.load(candidate)
            except CheckpointError as e:
                errors.append(str(e))
                if os.path.isfile(candidate) and "unreadable checkpoint" in str(e):
                    # keep it for inspection, but out of the way: model_final.pth is then rewritten
                    os.replace(candidate, candidate + ".corrupt")
                    logger.warning("cannot resume from %s (renamed to %s.corrupt): %s", candidate, candidate, e)
                else:
                    logger.warning("cannot resume from %s: %s", candidate, e)
                continue
            if errors:
                logger.warning("resuming from %s instead (the newer checkpoint is unusable)", candidate)
                self.tag_last_checkpoint(os.path.basename(candidate))
            return out
        raise CheckpointError(
            f"{self.save_dir}: no usable checkpoint to resume from ({'; '.join(errors) or 'none found'}); "
            "delete the broken files or run without --resume"
        )


class AtomicJSONWriter(EventWriter):
    """detectron2's ``JSONWriter`` (one JSON object per line), rewritten atomically at each write.

    Existing whole lines are kept (resume appends), a partial last line is dropped."""

    def __init__(self, json_file: str, window_size: int = 20):
        self._path = json_file
        self._window_size = window_size
        self._last_write = -1
        self._lines: List[str] = []
        if os.path.isfile(json_file):
            with open(json_file) as f:
                for line in f:
                    try:
                        json.loads(line)
                    except ValueError:
                        continue
                    self._lines.append(line if line.endswith("\n") else line + "\n")

    def write(self):
        storage = get_event_storage()
        to_save: Dict[int, Dict[str, Any]] = {}
        for k, (v, it) in storage.latest_with_smoothing_hint(self._window_size).items():
            if it <= self._last_write:
                continue
            to_save.setdefault(it, {})[k] = v
        if not to_save:
            return
        self._last_write = max(to_save)
        for it in sorted(to_save):
            self._lines.append(json.dumps({**to_save[it], "iteration": it}, sort_keys=True) + "\n")
        _replace_atomically(self._path, lambda f: f.write("".join(self._lines).encode()))

    def close(self):
        pass


# ----------------------------------------------------------------------------------------------
# inference: which weights, and none random
# ----------------------------------------------------------------------------------------------
def random_weight_modules(cfg_model) -> Tuple[List[str], List[str]]:
    """Module prefixes of the config's ``LazyCall`` nodes with a ``weights`` argument:
    (those left empty -- random unless a checkpoint covers them, those given a file)."""
    from uvmos.utils.config import config_keys
    from omegaconf import OmegaConf

    empty, given = [], []
    for key in config_keys(cfg_model):
        head, _, last = key.rpartition(".")
        if last != "weights":
            continue
        try:
            value = OmegaConf.select(cfg_model, key)
        except Exception:
            continue
        if value is None or isinstance(value, str):
            (given if value else empty).append(head)
    return empty, given


def _config_path(param: str) -> str:
    """A parameter's name as a path in the model config: ``VideoSegmenter`` keeps the modules of
    a non-module associator under ``associator_modules.`` (config: ``model.associator.``)."""
    return "associator." + param[len("associator_modules."):] if param.startswith("associator_modules.") else param


def load_inference_weights(
    model: torch.nn.Module,
    cfg_model,
    checkpoint: Optional[str],
    *,
    allow_random: bool = False,
    what: str = "train.init_checkpoint",
) -> Optional[str]:
    """Load ``checkpoint`` into ``model`` for inference and refuse random weights.

    After loading, every parameter must come from the checkpoint or from a module built with a
    ``weights`` file; otherwise a :class:`CheckpointError` says which modules are random and how
    to give them weights (or pass ``--allow-random-weights``). Logs the checkpoint loaded.
    Returns the checkpoint path (None when none was loaded).
    """
    params = [k for k, _ in model.named_parameters()]
    loaded: set = set()
    if checkpoint:
        ck = AtomicCheckpointer(model)
        ck.load(checkpoint)
        inc = ck.last_incompatible
        missing = set(inc.missing_keys) | {k for k, *_ in inc.incorrect_shapes} if inc is not None else set()
        loaded = {k for k in params if k not in missing}
        logger.info("weights: %s (%d of %d parameters)", checkpoint, len(loaded), len(params))
    empty, given = random_weight_modules(cfg_model)
    covered = tuple(g + "." for g in given)
    random_params = [k for k in params if k not in loaded and not _config_path(k).startswith(covered)]
    if random_params and not allow_random:
        tops = sorted({".".join(k.split(".")[:2]) for k in random_params})
        hint = "".join(f"; or set model.{e}.weights=FILE" for e in empty
                       if any(_config_path(k).startswith(e + ".") for k in random_params))
        src = f"{checkpoint} does not hold them" if checkpoint else f"{what} is empty"
        raise CheckpointError(
            f"{len(random_params)} of {len(params)} parameters would be random ({', '.join(tops[:4])}): {src}. "
            f"Give weights with {what}=PATH{hint}, or pass --allow-random-weights"
        )
    if random_params:
        logger.warning("running with %d of %d parameters random (--allow-random-weights)", len(random_params), len(params))
    if not checkpoint and not random_params:
        logger.info("weights: no checkpoint; every parameter comes from a module's own weights file")
    return checkpoint or None
