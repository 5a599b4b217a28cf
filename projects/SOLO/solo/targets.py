"""SOLO target assignment (SOLO §3.1-3.2, SOLOv2 §3): which S x S grid cells of which FPN level
predict which ground-truth instance.

An instance of scale sqrt(w h) (its box) goes to every level whose ``scale_ranges`` interval holds
it (ranges overlap, so an instance may go to two levels). On a level with grid S, the cells within
the "center region" -- the box ``sigma`` x (w, h) around the mask's center of mass, clipped to at
most one cell around the center cell -- are positive: their category target is the instance's
class and their mask target is the instance's mask. The grid covers the padded image, cells are
(H_pad / S) x (W_pad / S). When two instances claim a cell, the later one (smaller: instances are
visited from the largest area down) keeps it, so small objects are not hidden by large ones (our
ordering; SOLO's code visits them in annotation order).
"""

from __future__ import annotations

from typing import List, Sequence, Tuple

import torch

__all__ = ["solo_targets"]


def _cell(v: float, extent: float, S: int) -> int:
    return int(min(max(v / extent * S, 0), S - 1e-6))


def solo_targets(
    gt_masks: torch.Tensor,
    gt_classes: torch.Tensor,
    padded_size: Tuple[int, int],
    num_grids: Sequence[int],
    scale_ranges: Sequence[Tuple[float, float]],
    sigma: float = 0.2,
    num_classes: int = 1,
) -> List[Tuple[torch.Tensor, torch.Tensor]]:
    """Targets of one image.

    Args:
        gt_masks: (N, H, W) bool masks at the image's (unpadded or padded) resolution, top-left aligned.
        gt_classes: (N,) long in [0, num_classes).
        padded_size: (H_pad, W_pad) the grid spans.
    Returns: per level ``(cate, ins_idx)``: ``cate`` (S, S) long, ``num_classes`` = background,
    and ``ins_idx`` (S, S) long, the index into ``gt_masks`` of the cell's instance, -1 if none.
    """
    Hp, Wp = padded_size
    out = []
    masks = gt_masks.bool()
    n = len(masks)
    if n:
        ys = masks.any(2)
        xs = masks.any(1)
        areas = masks.flatten(1).sum(1)
    for S, (lo, hi) in zip(num_grids, scale_ranges):
        cate = torch.full((S, S), num_classes, dtype=torch.long)
        ins = torch.full((S, S), -1, dtype=torch.long)
        if n:
            for k in torch.argsort(areas, descending=True).tolist():
                if areas[k] == 0:
                    continue
                yk = torch.nonzero(ys[k]).flatten()
                xk = torch.nonzero(xs[k]).flatten()
                h = float(yk[-1] - yk[0] + 1)
                w = float(xk[-1] - xk[0] + 1)
                scale = (h * w) ** 0.5
                if not (lo <= scale <= hi):
                    continue
                pts = torch.nonzero(masks[k]).float()
                cy, cx = (pts[:, 0].mean() + 0.5).item(), (pts[:, 1].mean() + 0.5).item()  # pixel centers
                half_h, half_w = 0.5 * sigma * h, 0.5 * sigma * w
                ci, cj = _cell(cy, Hp, S), _cell(cx, Wp, S)
                top = max(_cell(cy - half_h, Hp, S), ci - 1)
                down = min(_cell(cy + half_h, Hp, S), ci + 1)
                left = max(_cell(cx - half_w, Wp, S), cj - 1)
                right = min(_cell(cx + half_w, Wp, S), cj + 1)
                cate[top : down + 1, left : right + 1] = int(gt_classes[k])
                ins[top : down + 1, left : right + 1] = k
        out.append((cate, ins))
    return out
