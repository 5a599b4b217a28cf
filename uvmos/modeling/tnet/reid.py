"""Re-identification embedders for target-agnostic verification (paper §3.2, eq. 10).

The paper uses a pretrained ReID network [33], which cannot be downloaded here. Two embedders,
both ``embedder(features, masks) -> (N, D)`` L2-normalised rows (all-zero for an empty mask):

* :class:`MaskPooledEmbedder` -- parameter-free: mask-weighted average of backbone features.
* :class:`ReIDHead` -- trainable: the same pooling followed by a small MLP, trained with a
  metric-learning loss (InfoNCE or batch-hard triplet) on instance ids across the two frames of a
  ``FramePairMapper`` sample (see :class:`ReIDTrainer`); external weights load from a user path.

``features``: dict name -> (1, C, h, w) features of the *current* frame (covering the whole frame);
``masks``: (N, H, W) bool at any resolution (area-downsampled to each feature map).
"""

from __future__ import annotations

from typing import Dict, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from uvmos.registry import REID_REGISTRY

from .mask_ops import downsample_masks

__all__ = ["mask_pool", "MaskPooledEmbedder", "ReIDHead", "reid_losses", "embed_all"]


def mask_pool(feature: torch.Tensor, masks: torch.Tensor, center: bool = False) -> torch.Tensor:
    """Mask-weighted mean of ``feature`` (1, C, h, w) under each mask (N, H, W) -> (N, C).

    With ``center`` the frame's mean feature is subtracted first, so cosines compare objects
    relative to the frame rather than sharing the positive mean of ReLU features. Empty -> zeros."""
    if masks.shape[0] == 0:
        return feature.new_zeros((0, feature.shape[1]))
    f = feature[0]
    if center:
        f = f - f.mean(dim=(1, 2), keepdim=True)
    w = downsample_masks(masks, f.shape[-2:])[:, 0].to(f.dtype)  # (N, h, w)
    area = w.sum(dim=(1, 2))
    pooled = torch.einsum("nhw,chw->nc", w, f) / area.clamp_min(1e-6)[:, None]
    return pooled * (area > 0).to(pooled.dtype)[:, None]


def _pool_levels(features: Dict[str, torch.Tensor], in_features: Sequence[str], masks, center) -> torch.Tensor:
    missing = [k for k in in_features if k not in features]
    if missing:
        raise KeyError(f"ReID embedder needs features {missing}; available: {sorted(features)}")
    return torch.cat([mask_pool(features[k], masks, center) for k in in_features], dim=1)


@REID_REGISTRY.register()
class MaskPooledEmbedder:
    """Parameter-free embedding: mask-pooled features of ``in_features`` (concatenated, each level
    L2-normalised, then the whole vector L2-normalised).

    Args:
        in_features: feature names to pool (e.g. ``("res4",)``).
        center: subtract the frame's mean feature before pooling (see :func:`mask_pool`).
    """

    def __init__(self, in_features: Sequence[str] = ("res4",), center: bool = True):
        self.in_features = tuple(in_features)
        self.center = center

    def __call__(self, features: Dict[str, torch.Tensor], masks: torch.Tensor) -> torch.Tensor:
        parts = [F.normalize(mask_pool(features[k], masks, self.center), dim=1) for k in self._check(features)]
        return F.normalize(torch.cat(parts, dim=1), dim=1)

    def _check(self, features):
        missing = [k for k in self.in_features if k not in features]
        if missing:
            raise KeyError(f"MaskPooledEmbedder needs features {missing}; available: {sorted(features)}")
        return self.in_features


def reid_losses(
    emb_a: torch.Tensor,
    keys_a: torch.Tensor,
    emb_b: torch.Tensor,
    keys_b: torch.Tensor,
    loss: str = "infonce",
    temperature: float = 0.1,
    margin: float = 0.3,
) -> torch.Tensor:
    """Metric-learning loss between two sets of L2-normalised embeddings (N_a, D), (N_b, D) whose
    rows carry identity keys (N_a,), (N_b,) (equal key = same object in the other frame).

    ``"infonce"``: for every row of a with a positive in b (and vice versa), cross-entropy of
    cos/temperature over all rows of the other frame, positive as target (symmetric).
    ``"triplet"``: batch-hard triplet over the union of both sets, margin on cosine distance.
    Returns a scalar (0 when no positive pair exists)."""
    if loss == "infonce":
        sim = emb_a @ emb_b.T / temperature  # (Na, Nb)
        same = keys_a[:, None] == keys_b[None, :]
        terms = []
        for s, m in ((sim, same), (sim.T, same.T)):
            rows = m.any(dim=1)
            if rows.any():
                target = m[rows].float().argmax(dim=1)
                terms.append(F.cross_entropy(s[rows], target))
        return torch.stack(terms).mean() if terms else emb_a.sum() * 0.0
    if loss == "triplet":
        e = torch.cat([emb_a, emb_b])
        k = torch.cat([keys_a, keys_b])
        dist = 1.0 - e @ e.T
        same = k[:, None] == k[None, :]
        eye = torch.eye(len(k), dtype=torch.bool, device=e.device)
        pos = same & ~eye
        neg = ~same
        rows = pos.any(1) & neg.any(1)
        if not rows.any():
            return e.sum() * 0.0
        hardest_pos = dist.masked_fill(~pos, -1e4).max(1).values
        hardest_neg = dist.masked_fill(~neg, 1e4).min(1).values
        return F.relu(hardest_pos - hardest_neg + margin)[rows].mean()
    raise ValueError(f"reid_losses: unknown loss {loss!r} (use 'infonce' or 'triplet')")


@REID_REGISTRY.register()
class ReIDHead(nn.Module):
    """Trainable embedding: mask-pooled features -> Linear-ReLU-Linear -> L2-normalised D-dim vector.

    Args:
        in_features: feature names to pool and concatenate.
        in_channels: channels of each of ``in_features`` (list) or their sum (int).
        hidden_dim, embed_dim: MLP widths (D = ``embed_dim``).
        loss, temperature, margin: see :func:`reid_losses`.
        center: subtract the frame mean before pooling.

    Trained weights come through ``train.init_checkpoint``, e.g. ``{"associator.reid":
    "output/reid_tiny_cpu/model_final.pth"}``: a ReIDTrainer checkpoint lands by key suffix
    (``head.mlp.0.weight`` -> ``mlp.0.weight``).
    """

    def __init__(
        self,
        in_features: Sequence[str] = ("res4",),
        in_channels=1024,
        hidden_dim: int = 256,
        embed_dim: int = 128,
        loss: str = "infonce",
        temperature: float = 0.1,
        margin: float = 0.3,
        center: bool = True,
    ):
        super().__init__()
        self.in_features = tuple(in_features)
        c = int(in_channels) if isinstance(in_channels, (int, float)) else int(sum(in_channels))
        self.mlp = nn.Sequential(nn.Linear(c, hidden_dim), nn.ReLU(inplace=True), nn.Linear(hidden_dim, embed_dim))
        self.loss_name = loss
        self.temperature = temperature
        self.margin = margin
        self.center = center

    def forward(self, features: Dict[str, torch.Tensor], masks: torch.Tensor) -> torch.Tensor:
        pooled = _pool_levels(features, self.in_features, masks, self.center)
        if pooled.shape[0] == 0:
            return pooled.new_zeros((0, self.mlp[-1].out_features))
        out = F.normalize(self.mlp(pooled), dim=1)
        empty = pooled.abs().sum(1) == 0
        return out.masked_fill(empty[:, None], 0.0)

    def losses(self, emb_a, keys_a, emb_b, keys_b) -> Dict[str, torch.Tensor]:
        """{"loss_reid": scalar} for embeddings of frame t (a) and frame t-1 (b), keys = identities."""
        return {
            "loss_reid": reid_losses(
                emb_a, keys_a, emb_b, keys_b, self.loss_name, temperature=self.temperature, margin=self.margin
            )
        }


def embed_all(embedder, features: Dict[str, torch.Tensor], masks: torch.Tensor) -> torch.Tensor:
    """Call any embedder without building autograd graphs."""
    with torch.no_grad():
        return embedder(features, masks)
