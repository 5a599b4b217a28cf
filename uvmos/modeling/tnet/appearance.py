"""Target-specific appearance model of T-Net (paper §3.2, eq. 8): ``S = W2 * (W1 * X)``.

The model is *functional*: the architecture lives here, the weights ``[W1, W2]`` of each target
live in that target's tracklet and are fitted online by an ``ONLINE_SOLVER_REGISTRY`` solver on
eq. 9. Features ``X`` are computed once per frame and shared by every target.
"""

from __future__ import annotations

from typing import List, Optional

import torch
import torch.nn.functional as F

from uvmos.registry import TARGET_MODEL_REGISTRY

__all__ = ["ConvTargetModel"]


@TARGET_MODEL_REGISTRY.register()
class ConvTargetModel:
    """Two-layer conv target model of eq. 8 (as FRTM): W1 1x1 conv C->96, W2 kxk conv 96->1, no bias.

    Args:
        hidden_channels: output channels of W1 (paper: 96).
        kernel_size: spatial size of W2 (paper: 3).
        init: ``"pca"`` (W1 = top principal directions of the first frame's features, scaled so
            the projected channels have unit variance on average; FRTM initialises at random, PCA gives a deterministic,
            well-conditioned start for Gauss-Newton) or ``"random"`` (Kaiming-normal).
        w2_init_std: std of the random W2 initialisation (W2 = 0 would make dS/dW1 vanish).

    Shapes: features ``x`` (N, C, h, w) -> scores (N, 1, h, w). ``params = [W1 (D, C, 1, 1),
    W2 (1, D, k, k)]``.
    """

    def __init__(self, hidden_channels: int = 96, kernel_size: int = 3, init: str = "pca", w2_init_std: float = 1e-2):
        if init not in ("pca", "random"):
            raise ValueError(f"ConvTargetModel: init must be 'pca' or 'random', got {init!r}")
        if kernel_size % 2 != 1:
            raise ValueError(f"ConvTargetModel: kernel_size must be odd, got {kernel_size}")
        self.hidden_channels = hidden_channels
        self.kernel_size = kernel_size
        self.init = init
        self.w2_init_std = w2_init_std

    def init_params(self, x: torch.Tensor, generator: Optional[torch.Generator] = None) -> List[torch.Tensor]:
        """Initial ``[W1, W2]`` for features ``x`` (N, C, h, w) of the target's first frame."""
        C = x.shape[1]
        D = self.hidden_channels
        if self.init == "pca":
            w1 = _pca_projection(x, D, generator)
        else:
            w1 = torch.randn(D, C, generator=generator, dtype=x.dtype) * (2.0 / C) ** 0.5
        w1 = w1.reshape(D, C, 1, 1).to(x.device)
        k = self.kernel_size
        w2 = torch.randn(1, D, k, k, generator=generator, dtype=x.dtype).to(x.device) * self.w2_init_std
        return [w1, w2]

    @staticmethod
    def project(x: torch.Tensor, w1: torch.Tensor) -> torch.Tensor:
        """W1 * X: (N, C, h, w) -> (N, D, h, w)."""
        return F.conv2d(x, w1)

    @staticmethod
    def filter(z: torch.Tensor, w2: torch.Tensor) -> torch.Tensor:
        """W2 * Z with 'same' padding: (N, D, h, w) -> (N, 1, h, w)."""
        return F.conv2d(z, w2, padding=w2.shape[-1] // 2)

    def __call__(self, x: torch.Tensor, params: List[torch.Tensor]) -> torch.Tensor:
        """Coarse segmentation scores S (N, 1, h, w) of eq. 8.

        Same values as ``filter(project(x, W1), W2)``, computed as GEMMs in channels-last layout
        (W1: one GEMM; W2: a GEMM with the (D, k*k) weight matrix then k*k shifted sums), which
        makes the solver's autograd products 2-3x faster on CPU than through ``conv2d``."""
        w1, w2 = params
        D, k = w1.shape[0], w2.shape[-1]
        p = k // 2
        z = x.permute(0, 2, 3, 1) @ w1.reshape(D, -1).T  # (N, h, w, D)
        h, w = z.shape[1], z.shape[2]
        P = F.pad(z, (0, 0, p, p, p, p)) @ w2.reshape(D, k * k)  # (N, h+2p, w+2p, k*k)
        out = P[:, 0:h, 0:w, 0]
        for i in range(1, k * k):
            dy, dx = divmod(i, k)
            out = out + P[:, dy : dy + h, dx : dx + w, i]
        return out[:, None]


def _pca_projection(x: torch.Tensor, d: int, generator: Optional[torch.Generator]) -> torch.Tensor:
    """(d, C) matrix of the top-d principal directions of the pixels of ``x`` (N, C, h, w), all
    scaled by one factor so the projected channels have unit variance on average (no whitening:
    it would amplify the noisy low-variance directions).
    When C < d (or there are fewer pixels than d), the remaining rows are small random directions."""
    C = x.shape[1]
    pix = x.detach().permute(1, 0, 2, 3).reshape(C, -1).double()
    pix = pix - pix.mean(dim=1, keepdim=True)
    cov = pix @ pix.T / max(pix.shape[1] - 1, 1)
    evals, evecs = torch.linalg.eigh(cov)  # ascending
    k = min(d, C, pix.shape[1])
    scale = evals.flip(0)[:k].mean().clamp_min(1e-12).rsqrt()
    w = evecs.flip(1)[:, :k].T * scale  # (k, C)
    if k < d:
        extra = torch.randn(d - k, C, generator=generator, dtype=torch.float64) * 1e-3
        w = torch.cat([w, extra], dim=0)
    return w.to(x.dtype)
