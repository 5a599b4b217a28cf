"""Reading frames, reading and writing id-map PNGs, with errors that name the file.

Every reader here raises :class:`~uvmos.data.video_dict.DatasetFormatError` (message
``"<path>: <problem>"``) on bad input, so nothing fails later with a shape error. An *id map* is
an (H, W) array whose pixel value is an object / track id (0 background, 255 DAVIS void); it is
stored as a DAVIS palette PNG (:func:`write_palette_png`) and read back by :func:`read_id_map`
(annotations, with their range checks: :func:`read_annotation_png`).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
from detectron2.data import detection_utils
from PIL import Image

from uvmos.utils.file_io import atomic_write_png

from .video_dict import DatasetFormatError

__all__ = [
    "IMAGE_EXTENSIONS",
    "VOID_ID",
    "read_frame",
    "read_json",
    "image_size",
    "read_id_map",
    "read_id_maps",
    "read_annotation_png",
    "DAVIS_PALETTE",
    "davis_palette",
    "write_palette_png",
    "natural_key",
    "list_images",
]

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VOID_ID = 255  # DAVIS "void" / ignore label in annotation PNGs

_EXIF_ORIENTATION = 0x0112


def read_frame(path: str, format: str = "BGR") -> np.ndarray:
    """Read one video frame with detectron2's reader (EXIF orientation applied).

    Args:
        path: image file.
        format: "BGR" (default, detectron2's convention), "RGB", or any PIL mode.
    Returns:
        np.uint8 (H, W, 3) for "BGR"/"RGB".
    """
    if not os.path.isfile(path):
        raise DatasetFormatError(path, "image file not found")
    try:
        with Image.open(path) as im:
            if im.mode in _WIDE_GRAY_MODES:
                img = _wide_gray_to_8bit(path, detection_utils._apply_exif_orientation(im))
                img = np.repeat(img[:, :, None], 3, axis=2) if format in ("BGR", "RGB") else img
                return np.ascontiguousarray(img)
        img = detection_utils.read_image(path, format=format)
    except DatasetFormatError:
        raise
    except Exception as e:  # PIL raises OSError / UnidentifiedImageError / SyntaxError on bad files
        raise DatasetFormatError(path, f"unreadable image ({type(e).__name__}: {e})") from e
    if img.dtype != np.uint8:
        img = img.astype(np.uint8)
    return img


_WIDE_GRAY_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")


def _wide_gray_to_8bit(path: str, im: Image.Image) -> np.ndarray:
    """16-bit / 32-bit / float gray frames -> uint8 (H, W), scaled, not clipped (PIL's convert("RGB")
    clips such frames to white). 16-bit: value / 257 (65535 -> 255); "I" frames whose values fit 16
    bits are 16-bit PNGs; float frames in [0, 1] are scaled by 255, others clipped to 0..255."""
    arr = np.asarray(im)
    if im.mode.startswith("I;16") or (im.mode == "I" and arr.size and arr.min() >= 0 and arr.max() <= 65535):
        return np.round(arr.astype(np.float64) / 257.0).astype(np.uint8)
    if im.mode == "F" and arr.size and np.nanmin(arr) >= 0 and np.nanmax(arr) <= 1.0:
        return np.round(np.nan_to_num(arr) * 255.0).astype(np.uint8)
    raise DatasetFormatError(
        path, f"{im.mode} image with values {arr.min()}..{arr.max()}: expected 8- or 16-bit frames"
    )


def image_size(path: str) -> Tuple[int, int]:
    """(H, W) of an image from its header only (no decoding), EXIF rotation taken into account."""
    if not os.path.isfile(path):
        raise DatasetFormatError(path, "image file not found")
    try:
        with Image.open(path) as im:
            w, h = im.size
            try:
                orientation = im.getexif().get(_EXIF_ORIENTATION, 1)
            except Exception:  # broken EXIF block: read_image ignores it too
                orientation = 1
    except Exception as e:
        raise DatasetFormatError(path, f"unreadable image ({type(e).__name__}: {e})") from e
    if orientation in (5, 6, 7, 8):  # transposed by read_image
        h, w = w, h
    return int(h), int(w)


def _single_channel(path: str, im: Image.Image) -> np.ndarray:
    """Id-map pixels as a 2-D array; multi-channel images only when all colour channels agree.

    "P" (palette) gives palette indices, "L"/"1"/"I;16"/"I" their values. "LA" (gray + alpha, e.g.
    DAVIS-2016 ``bear/00077.png``) and "RGB"/"RGBA" whose R, G, B are identical are gray images in
    disguise: channel 0 is used and alpha is ignored. An RGB image with differing channels is a
    colour-coded mask, which is ambiguous (colour -> id), so it is rejected.
    """
    mode = im.mode
    if mode in ("P", "L", "1", "I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im)
        if mode == "1":
            arr = arr.astype(np.uint8)
        return arr
    if mode in ("LA", "PA"):
        if mode == "PA":
            raise DatasetFormatError(path, "palette+alpha id map PNG is not supported; save as mode P")
        return np.asarray(im)[..., 0]
    if mode in ("RGB", "RGBA"):
        arr = np.asarray(im)
        colour = arr[..., :3]
        if not ((colour[..., 0] == colour[..., 1]).all() and (colour[..., 1] == colour[..., 2]).all()):
            raise DatasetFormatError(
                path,
                f"id map PNG is {mode} with differing colour channels (a colour-coded mask); "
                "expected a single-channel palette (mode P) or grayscale PNG whose values are object ids",
            )
        return colour[..., 0]
    raise DatasetFormatError(path, f"unsupported id map PNG mode {mode!r}; expected P or L")


def read_id_map(path: str) -> np.ndarray:
    """An (H, W) id map from a palette / gray (8- or 16-bit) PNG, values as stored (no range check)."""
    try:
        with Image.open(path) as im:
            im.load()
            arr = _single_channel(path, im)
    except DatasetFormatError:
        raise
    except Exception as e:  # PIL raises OSError / UnidentifiedImageError / SyntaxError on bad files
        raise DatasetFormatError(path, f"unreadable id map PNG ({type(e).__name__}: {e})") from None
    if arr.ndim != 2:
        raise DatasetFormatError(path, f"id map has shape {arr.shape}; expected (H, W)")
    return arr


def read_id_maps(folder: str) -> List[np.ndarray]:
    """Every ``*.png`` id map of a folder, in file-name order (other files are ignored)."""
    return [read_id_map(os.path.join(folder, f)) for f in sorted(os.listdir(folder)) if f.endswith(".png")]


def read_annotation_png(
    path: str,
    kind: str = "palette",
    max_id: int = 254,
    expected_size: Optional[Sequence[int]] = None,
    frame_path: Optional[str] = None,
) -> np.ndarray:
    """Read a DAVIS-style annotation PNG as an object-id map.

    Args:
        path: the PNG.
        kind: "palette" — pixel value = object id, 0 background, 1..``max_id`` objects, 255 void
            (DAVIS-2017, synthetic set); "binary" — DAVIS-2016 masks, values must be 0/255 only,
            mapped to ids 0/1 (there is no void in DAVIS-2016).
        max_id: largest object id accepted for "palette" (255 is always void).
        expected_size: (H, W) of the annotation's frame; a mismatch is an error.
        frame_path: the frame's file, named in the size-mismatch message.
    Returns:
        np.uint8 (H, W) id map (255 = void for "palette").
    """
    if kind not in ("palette", "binary"):
        raise ValueError(f"kind must be 'palette' or 'binary', got {kind!r}")
    if not os.path.isfile(path):
        raise DatasetFormatError(path, "annotation file not found")
    arr = read_id_map(path)
    if expected_size is not None and tuple(arr.shape) != tuple(expected_size):
        where = f" of frame {frame_path}" if frame_path else ""
        raise DatasetFormatError(
            path,
            f"annotation size {arr.shape[1]}x{arr.shape[0]} (WxH) differs from the size "
            f"{expected_size[1]}x{expected_size[0]}{where}",
        )
    # Range checks with comparisons (np.unique on a 480p map is ~20x slower); list values on error.
    if kind == "binary":
        bad = (arr != 0) & (arr != 255)
        if bad.any():
            raise DatasetFormatError(
                path, f"binary mask must contain only 0 and 255, found values {np.unique(arr[bad])[:8].tolist()}"
            )
        return (arr == 255).astype(np.uint8)
    bad = ((arr < 0) | (arr > max_id)) & (arr != VOID_ID)
    if bad.any():
        raise DatasetFormatError(
            path, f"object ids must be 0..{max_id} or {VOID_ID} (void), found {np.unique(arr[bad])[:8].tolist()}"
        )
    return arr.astype(np.uint8)


def davis_palette() -> List[int]:
    """The DAVIS / PASCAL VOC palette (id k -> colour), flattened to 768 ints for ``putpalette``."""
    pal = np.zeros((256, 3), dtype=np.uint8)
    for k in range(256):
        c, r, g, b = k, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal[k] = (r, g, b)
    return pal.reshape(-1).tolist()


DAVIS_PALETTE = davis_palette()


def write_palette_png(path: str, id_map: np.ndarray) -> None:
    """(H, W) integer id map (0 background, ids < 256) -> DAVIS palette PNG, atomically."""
    id_map = np.asarray(id_map)
    if id_map.size and (id_map.min() < 0 or id_map.max() > 255):
        raise ValueError(f"{path}: track ids must lie in 0..255 for a palette PNG, got {id_map.min()}..{id_map.max()}")
    img = Image.fromarray(id_map.astype(np.uint8), mode="P")
    img.putpalette(DAVIS_PALETTE)
    atomic_write_png(path, img)


def read_json(path: str, what: str = "") -> Any:
    """The parsed JSON file; an unreadable one is ``"<path>: unreadable <what>JSON (...)"``."""
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise DatasetFormatError(path, f"unreadable {what}JSON ({e})") from None


def natural_key(name: str):
    """Sort key that orders ``frame2.jpg`` before ``frame10.jpg`` (digit runs compared as numbers)."""
    return [int(tok) if tok.isdigit() else tok.lower() for tok in re.split(r"(\d+)", os.path.basename(name))]


def list_images(folder: str, extensions: Sequence[str] = IMAGE_EXTENSIONS) -> list:
    """Image files directly in ``folder``, naturally sorted; errors name the folder when missing."""
    if not os.path.isdir(folder):
        raise DatasetFormatError(folder, "folder not found")
    names = [n for n in os.listdir(folder) if n.lower().endswith(tuple(extensions)) and not n.startswith(".")]
    return [os.path.join(folder, n) for n in sorted(names, key=natural_key)]
