"""Files that are never half-written: write to a temporary name in the destination folder, then
``os.replace`` it into place (atomic on one file system), with the permissions of a normally
created file.

Temporary names are ``.tmp-<final name>-<random><extension>`` beside the final file: hidden, tied
to the file they stand for (``AtomicCheckpointer`` removes ``.tmp-model_*`` leftovers of a killed
save) and ending in the final extension, so writers that pick the format from it (PIL, matplotlib)
work on them.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from typing import IO, Any, Callable, Iterator, Optional, Union

import numpy as np

__all__ = [
    "public_permissions",
    "public_dir_permissions",
    "temp_path_beside",
    "commit_temp",
    "discard_temp",
    "atomic_path",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_text",
    "atomic_write_json",
    "atomic_save_npy",
    "atomic_write_png",
    "atomic_save_figure",
    "replace_folder",
]

PathLike = Union[str, os.PathLike]


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def public_permissions(path: PathLike) -> None:
    """Give a ``mkstemp`` file (mode 0600) the permissions of a normally created file."""
    os.chmod(path, 0o666 & ~_umask())


def public_dir_permissions(path: PathLike) -> None:
    """Give a ``mkdtemp`` folder (mode 0700) the permissions of a normally created folder."""
    os.chmod(path, 0o777 & ~_umask())


def temp_path_beside(path: PathLike, suffix: Optional[str] = None) -> str:
    """Create an empty temporary file next to ``path`` (its folder is created) and return its name.

    ``suffix`` defaults to ``path``'s extension. Finish with :func:`commit_temp` or
    :func:`discard_temp` (for writers that stream into the file over many calls)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    ext = os.path.splitext(path)[1] if suffix is None else suffix
    fd, tmp = tempfile.mkstemp(prefix=f".tmp-{os.path.basename(path)}-", suffix=ext, dir=folder)
    os.close(fd)
    return tmp


def commit_temp(tmp: str, path: PathLike) -> None:
    """Move the finished temporary file ``tmp`` to ``path`` with normal permissions."""
    public_permissions(tmp)
    os.replace(tmp, path)


def discard_temp(tmp: Optional[str]) -> None:
    """Remove a temporary file that will not be committed (no error when it is gone)."""
    if tmp and os.path.exists(tmp):
        os.unlink(tmp)


@contextlib.contextmanager
def atomic_path(path: PathLike, suffix: Optional[str] = None) -> Iterator[str]:
    """``with atomic_path(p) as tmp: write(tmp)``: ``tmp`` becomes ``p`` when the block ends
    normally, and is deleted when it raises (``p`` is then untouched)."""
    tmp = temp_path_beside(path, suffix)
    try:
        yield tmp
        commit_temp(tmp, path)
    except BaseException:
        discard_temp(tmp)
        raise


def atomic_write(path: PathLike, write_fn: Callable[[IO[bytes]], Any], fsync: bool = False) -> None:
    """Call ``write_fn`` on a binary file object, then move the file to ``path``.

    ``fsync``: flush it to the disk before the rename (checkpoints: a crash right after the
    rename must not leave an empty file under the final name)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            write_fn(f)
            if fsync:
                f.flush()
                os.fsync(f.fileno())


def atomic_write_bytes(path: PathLike, data: bytes, fsync: bool = False) -> None:
    atomic_write(path, lambda f: f.write(data), fsync=fsync)


def atomic_write_text(path: PathLike, text: str) -> None:
    """``text`` as UTF-8, line ends as given (no newline translation)."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: PathLike, obj: Any, indent: Optional[int] = None) -> None:
    atomic_write_text(path, json.dumps(obj, indent=indent) + ("\n" if indent is not None else ""))


def atomic_save_npy(path: PathLike, array: np.ndarray) -> None:
    atomic_write(path, lambda f: np.save(f, np.asarray(array), allow_pickle=False))


def atomic_write_png(path: PathLike, image) -> None:
    """Save a PIL image as PNG."""
    atomic_write(path, lambda f: image.save(f, format="PNG"))


def atomic_save_figure(path: PathLike, fig, dpi: int = 120) -> None:
    """Save a matplotlib figure (format from ``path``'s extension, PNG without one)."""
    ext = os.path.splitext(os.fspath(path))[1] or ".png"
    atomic_write(path, lambda f: fig.savefig(f, dpi=dpi, format=ext[1:]))


def replace_folder(tmp: PathLike, final: PathLike) -> None:
    """Move the finished folder ``tmp`` to ``final`` (same parent), replacing an older ``final``
    entirely (no stale files of a longer earlier run), with normal permissions."""
    public_dir_permissions(tmp)
    if not os.path.isdir(final):
        os.replace(tmp, final)
        return
    old = tempfile.mkdtemp(prefix=".old-", dir=os.path.dirname(os.path.abspath(final)))
    os.replace(final, os.path.join(old, "x"))
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
