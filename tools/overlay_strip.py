#!/usr/bin/env python
"""A JPEG strip of overlay frames from a demo run, for docs (a person can judge the tracks).

    python tools/overlay_strip.py --frames ../shared/data/bedroom-video/frames --masks out/bedroom/masks \
        --indices 0 40 80 120 160 199 --width 320 --cols 3 --out docs/images/bedroom_real_cpu.jpg

``--masks``: the ``masks/`` folder ``tools/demo.py`` writes (palette PNGs, pixel value = track id,
same file stems as the frames). Each tile shows the frame index; colours are the overlay video's.
"""

import argparse
import os
from pathlib import Path


def main(argv=None):
    import cv2
    import numpy as np

    from uvmos.data.io import list_images, read_frame, read_id_map
    from uvmos.engine.writers import OverlayVideoWriter

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", required=True, help="folder of the video's frames")
    p.add_argument("--masks", required=True, help="folder of id-map PNGs (tools/demo.py's masks/)")
    p.add_argument("--indices", type=int, nargs="+", required=True, help="frame indices to show")
    p.add_argument("--width", type=int, default=320, help="tile width in px")
    p.add_argument("--cols", type=int, default=3)
    p.add_argument("--quality", type=int, default=80, help="JPEG quality")
    p.add_argument("--out", required=True, help="output .jpg")
    args = p.parse_args(argv)

    frames = list_images(args.frames)
    if not frames:
        raise SystemExit(f"error: --frames {args.frames}: no images")
    renderer = OverlayVideoWriter.__new__(OverlayVideoWriter)  # render() only: no file is opened
    renderer.alpha = 0.5
    tiles = []
    for i in args.indices:
        if not 0 <= i < len(frames):
            raise SystemExit(f"error: --indices: frame {i} is outside 0..{len(frames) - 1}")
        mask_path = os.path.join(args.masks, Path(frames[i]).stem + ".png")
        if not os.path.isfile(mask_path):
            raise SystemExit(f"error: {mask_path}: no id map for frame {i}")
        frame = read_frame(frames[i])
        tile = renderer.render(frame, read_id_map(mask_path))
        h = int(round(tile.shape[0] * args.width / tile.shape[1]))
        tile = cv2.resize(np.ascontiguousarray(tile), (args.width, h), interpolation=cv2.INTER_AREA)
        cv2.putText(tile, f"t={i}", (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(tile, f"t={i}", (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(tile)
    while len(tiles) % args.cols:
        tiles.append(np.full_like(tiles[0], 255))
    rows = [np.concatenate(tiles[r : r + args.cols], 1) for r in range(0, len(tiles), args.cols)]
    strip = np.concatenate(rows, 0)
    ok, buf = cv2.imencode(".jpg", strip, [cv2.IMWRITE_JPEG_QUALITY, args.quality])
    if not ok:
        raise SystemExit(f"error: {args.out}: JPEG encoding failed")
    from uvmos.utils.file_io import atomic_write_bytes

    atomic_write_bytes(args.out, buf.tobytes())
    print(f"saved {args.out} ({len(buf) / 1024:.0f} KB, {strip.shape[1]}x{strip.shape[0]})")


if __name__ == "__main__":
    main()
