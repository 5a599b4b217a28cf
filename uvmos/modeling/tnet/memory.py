"""Training-sample memories of the target models and their update policies (paper §3.2,
"Adaptive Memory Updating").

A :class:`SampleMemory` is one target's training set S = {(X_j, y_j, alpha_j)} of eq. 9, stored in
tensors that grow by doubling up to a fixed capacity (so memory does not grow with the video length
beyond it). A policy
(``MEMORY_REGISTRY``) decides which samples enter, their weights, and when the model is refitted:

* :class:`AdaptiveMemory` (paper): alpha_j = (1-gamma)^-1 alpha_{j-1}, alpha_0 = gamma; the weight is
  doubled when the result was verified (m > thr_reid); all weights normalised to sum 1; refit at
  once when verified, otherwise every ``update_every`` (8) frames.
* :class:`FixedRateMemory` (FRTM): the same geometric weights, no doubling, refit every N frames.
* :class:`NoUpdateMemory`: the model fitted on the pseudo label y0 is never updated.

Choices where the paper is silent (docs/tnet.md): every frame's final tracking result enters S
(verified or not; otherwise "doubling the verified ones" would be void), empty results do not;
"every eight frames" counts frames since the model was last fitted; when S is full the sample
with the lowest weight is replaced (ties: the oldest), which with growing weights is the oldest
unverified one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch

from uvmos.registry import MEMORY_REGISTRY

__all__ = ["SampleMemory", "AdaptiveMemory", "FixedRateMemory", "NoUpdateMemory"]


@dataclass
class SampleMemory:
    """One target's training set; slots ``[:size]`` are used, at most ``capacity``.

    samples (cap, C, h, w), labels (cap, 1, h, w), pixel_weights (cap, 1, h, w), weights (cap,)
    (normalised alpha_j, 0 for free slots), ages (cap,) insertion counter, verified (cap,) bool.
    """

    samples: torch.Tensor
    labels: torch.Tensor
    pixel_weights: torch.Tensor
    weights: torch.Tensor
    ages: torch.Tensor
    verified: torch.Tensor
    size: int = 0
    last_base_weight: float = 0.0  # alpha of the newest sample before doubling, on the normalised scale
    inserted: int = 0
    frames_since_fit: int = 0
    num_fits: int = 0
    extra: dict = field(default_factory=dict)

    capacity: int = 0

    def _grow(self) -> None:
        """Double the allocated slots (up to ``capacity``): a short video never allocates the
        whole capacity, a long one stops growing once it is reached."""
        n = min(max(2 * self.samples.shape[0], 1), self.capacity)
        for name in ("samples", "labels", "pixel_weights", "weights", "ages", "verified"):
            old = getattr(self, name)
            new = old.new_zeros((n,) + tuple(old.shape[1:])) if name != "ages" else old.new_full((n,), -1)
            new[: old.shape[0]] = old
            setattr(self, name, new)

    def used(self):
        """(samples, labels, pixel_weights, weights) of the used slots."""
        n = self.size
        return self.samples[:n], self.labels[:n], self.pixel_weights[:n], self.weights[:n]

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in (self.samples, self.labels, self.pixel_weights))


class _GeometricMemory:
    """Shared machinery: geometric sample weights, bounded capacity, lowest-weight replacement."""

    def __init__(self, gamma: float = 0.1, capacity: int = 80, update_every: int = 8):
        if not 0.0 < gamma < 1.0:
            raise ValueError(f"{type(self).__name__}: gamma must be in (0, 1), got {gamma}")
        if capacity < 1:
            raise ValueError(f"{type(self).__name__}: capacity must be >= 1, got {capacity}")
        self.gamma = float(gamma)
        self.capacity = int(capacity)
        self.update_every = int(update_every)

    def init(self, x0: torch.Tensor, y0: torch.Tensor, pw0: Optional[torch.Tensor] = None) -> SampleMemory:
        """A memory holding the first sample (X_0, y0) with alpha_0 = gamma (normalised: 1).

        x0 (1, C, h, w), y0 (1, 1, h, w), pw0 (1, 1, h, w) or None (ones)."""
        n = min(8, self.capacity)  # slots allocated now; grows by doubling up to the capacity
        mem = SampleMemory(
            samples=x0.new_zeros((n,) + tuple(x0.shape[1:])),
            labels=y0.new_zeros((n,) + tuple(y0.shape[1:])),
            pixel_weights=y0.new_zeros((n,) + tuple(y0.shape[1:])),
            weights=torch.zeros(n, dtype=torch.float64),
            ages=torch.full((n,), -1, dtype=torch.long),
            verified=torch.zeros(n, dtype=torch.bool),
            capacity=self.capacity,
        )
        self._insert(mem, 0, x0, y0, pw0, weight=self.gamma, base=self.gamma, verified=False)
        mem.size = 1
        self._normalise(mem)
        return mem

    def _insert(self, mem, slot, x, y, pw, weight, base, verified):
        mem.samples[slot] = x[0].detach()
        mem.labels[slot] = y[0].detach()
        mem.pixel_weights[slot] = 1.0 if pw is None else pw[0].detach()
        mem.weights[slot] = weight
        mem.ages[slot] = mem.inserted
        mem.verified[slot] = verified
        mem.inserted += 1
        mem.last_base_weight = base

    @staticmethod
    def _normalise(mem: SampleMemory) -> None:
        s = float(mem.weights.sum())
        mem.weights /= s
        mem.last_base_weight /= s

    def add(self, mem: SampleMemory, x, y, pw=None, verified: bool = False, factor: float = 1.0) -> None:
        """Append (x, y): alpha = alpha_prev / (1 - gamma) times ``factor``; then normalise."""
        base = mem.last_base_weight / (1.0 - self.gamma)
        if mem.size < mem.capacity:
            if mem.size == mem.samples.shape[0]:
                mem._grow()
            slot = mem.size
            mem.size += 1
        else:  # lowest weight; among equal weights the oldest
            w = mem.weights[: mem.size]
            cand = torch.nonzero(w <= w.min() * (1 + 1e-9)).flatten()
            slot = int(cand[torch.argmin(mem.ages[cand])])
        self._insert(mem, slot, x, y, pw, weight=base * factor, base=base, verified=verified)
        self._normalise(mem)

    def step(
        self, mem: SampleMemory, x, y, pw=None, verified: bool = False, matched: bool = True
    ) -> bool:  # pragma: no cover
        raise NotImplementedError

    def fitted(self, mem: SampleMemory) -> None:
        """Tell the memory its model was just refitted."""
        mem.frames_since_fit = 0
        mem.num_fits += 1


@MEMORY_REGISTRY.register()
class AdaptiveMemory(_GeometricMemory):
    """The paper's adaptive memory (§3.2): doubled weights and immediate refits for verified results.

    Args:
        gamma: alpha_0 and the weight growth rate (FRTM's learning rate, 0.1; the paper gives no value).
        capacity: at most this many samples (FRTM: 80).
        update_every: refit period for unverified frames (paper: 8).
        verified_factor: weight multiplier for verified samples (paper: 2).
        add_unverified: also store tracking results that were not replaced by a proposal.
        add_unmatched: also store results that no proposal matches at all (s = 0 in eq. 10 for
            every proposal). Default False: §3.2 adds a sample "once the tracking result is
            verified" and doubles its weight when the match is above thr_reid, which we read as:
            a result consistent with some proposal (IoU > 0.5, s > 0) enters S, one that replaced
            y̌_j (s > thr_reid) enters with a doubled weight and an immediate refit, and a result
            no proposal supports (an occluded target firing on something else) is not learnt.
    """

    def __init__(
        self,
        gamma: float = 0.1,
        capacity: int = 80,
        update_every: int = 8,
        verified_factor: float = 2.0,
        add_unverified: bool = True,
        add_unmatched: bool = False,
    ):
        super().__init__(gamma, capacity, update_every)
        self.verified_factor = float(verified_factor)
        self.add_unverified = add_unverified
        self.add_unmatched = add_unmatched

    def step(self, mem: SampleMemory, x, y, pw=None, verified: bool = False, matched: bool = True) -> bool:
        """Record this frame's result (x (1,C,h,w), y (1,1,h,w); None = no usable result);
        ``verified``: it was replaced by a proposal (s > thr_reid); ``matched``: some proposal
        has s > 0 with it. Return True when the target model must be refitted now."""
        mem.frames_since_fit += 1
        if not (verified or matched or self.add_unmatched):
            x = None
        if x is not None and (verified or self.add_unverified):
            self.add(mem, x, y, pw, verified=verified, factor=self.verified_factor if verified else 1.0)
        if x is not None and verified:
            return True
        return self.update_every > 0 and mem.frames_since_fit >= self.update_every


@MEMORY_REGISTRY.register()
class FixedRateMemory(_GeometricMemory):
    """FRTM's memory: every result stored with geometric weights, refit every ``update_every`` frames."""

    def step(self, mem: SampleMemory, x, y, pw=None, verified: bool = False, matched: bool = True) -> bool:
        mem.frames_since_fit += 1
        if x is not None:
            self.add(mem, x, y, pw, verified=verified, factor=1.0)
        return self.update_every > 0 and mem.frames_since_fit >= self.update_every


@MEMORY_REGISTRY.register()
class NoUpdateMemory(_GeometricMemory):
    """No memory updating (Table 4 ablation): S = {(X_0, y0)} for the whole video."""

    def __init__(self, gamma: float = 0.1, capacity: int = 1, update_every: int = 0):
        super().__init__(gamma, 1, 0)

    def step(self, mem: SampleMemory, x, y, pw=None, verified: bool = False, matched: bool = True) -> bool:
        mem.frames_since_fit += 1
        return False
