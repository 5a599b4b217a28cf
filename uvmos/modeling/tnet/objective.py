"""The target-model objective of eq. 9 (paper §3.2) as residuals, and their linearisation.

    L(W; S) = sum_j alpha_j * mean_px( pi_j * (T(X_j; W) - y_j)^2 ) + sum_k lambda_k ||W_k||^2

written as a sum of squared residuals ``r(W) = [sqrt(alpha_j pi_j / P) (T(X_j;W) - y_j), sqrt(lambda_k) W_k]``
(``P`` = pixels per label map, ``pi_j`` = optional per-pixel weights). Eq. 9 sums over pixels; we
average, so that lambda does not depend on the feature resolution (document: docs/tnet.md).

:func:`linearise` gives the residuals, J^T r and the J v / J^T u products the solvers
(:mod:`uvmos.modeling.tnet.solver`) need: by explicit linear algebra for
:class:`LinearFilterObjective`, else by autograd (J v by the double-backward trick: g(u) = J^T u
is linear in u, so d<g(u), v>/du = J v).
"""

from __future__ import annotations

from typing import Callable, List, Optional, Sequence

import torch

__all__ = ["TargetObjective", "LinearFilterObjective", "linearise", "objective_value", "hinge_pixel_weights"]

ResidualFn = Callable[[List[torch.Tensor]], List[torch.Tensor]]


class TargetObjective:
    """Residuals of eq. 9 for a target model ``forward(x, params)``.

    Args:
        forward: ``(x (N, C, h, w), params) -> scores (N, 1, h, w)`` (e.g. a ConvTargetModel, or
            its W2 alone on projected samples).
        x: training samples X_j (N, C, h, w).
        y: labels y_j (N, 1, h, w) in [0, 1] (the pseudo label / tracking result at feature res).
        sample_weights: alpha_j (N,), >= 0.
        regs: lambda_k, one per parameter tensor.
        pixel_weights: optional pi_j (N, 1, h, w) >= 0.
    """

    def __init__(
        self,
        forward: Callable[[torch.Tensor, List[torch.Tensor]], torch.Tensor],
        x: torch.Tensor,
        y: torch.Tensor,
        sample_weights: torch.Tensor,
        regs: Sequence[float],
        pixel_weights: Optional[torch.Tensor] = None,
    ):
        keep = sample_weights > 0
        self.forward = forward
        self.x = x[keep]
        self.y = y[keep]
        P = y.shape[-1] * y.shape[-2]
        w = (sample_weights[keep] / P).view(-1, 1, 1, 1).to(y.dtype)
        if pixel_weights is not None:
            w = w * pixel_weights[keep]
        self.sqrt_w = w.sqrt()
        self.sqrt_regs = [float(r) ** 0.5 for r in regs]

    def __call__(self, params: List[torch.Tensor]) -> List[torch.Tensor]:
        if len(params) != len(self.sqrt_regs):
            raise ValueError(f"TargetObjective: {len(params)} parameter tensors but {len(self.sqrt_regs)} regs")
        data = self.sqrt_w * (self.forward(self.x, params) - self.y)
        return [data] + [s * p for s, p in zip(self.sqrt_regs, params)]


class LinearFilterObjective:
    """Eq. 9 for W2 alone on projected samples Z_j = W1 * X_j (W1 frozen, as FRTM's updates):
    residuals are linear in W2, so J v and J^T u are computed by explicit linear algebra instead
    of autograd -- one GEMM each on the samples in channels-last, zero-padded layout
    (the kxk convolution = GEMM with the (D, k*k) weight matrix + k*k shifted sums). About 4x
    faster than double-backward through ``conv2d`` on CPU; same values (tests/test_tnet_solver.py).

    Being linear, the problem also has closed-form normal equations (``normal_equations``):
    (sum_j alpha_j G_j + lambda I) w = sum_j alpha_j r_j with G_j = A_j^T Pi_j A_j / P and
    r_j = A_j^T Pi_j y_j / P (A_j: the (h*w, D*k*k) patch matrix of sample j). G_j and r_j do not
    depend on the weights alpha, so with ``cache`` they are computed once per sample and reused
    by every later refit (:class:`GaussNewtonCG` with ``direct=True``).

    Args: z (N, D, h, w) projected samples; y, sample_weights, pixel_weights as
    :class:`TargetObjective`; reg: lambda of W2; kernel_size: k of W2; cache: optional
    ``(store, keys[, capacity])``: a dict kept with the samples (e.g. ``SampleMemory.extra``), one
    int key per sample (N,) that changes whenever the sample in that slot changes
    (``SampleMemory.ages``), and optionally the memory's capacity (the cache never holds more
    Gram blocks than that; each is (D*k*k)^2 floats).
    """

    def __init__(self, z, y, sample_weights, reg: float, pixel_weights=None, kernel_size: int = 3, cache=None):
        keep = sample_weights > 0
        self.alpha = sample_weights[keep].tolist()
        kc = keep.cpu()
        self.cache = None if cache is None else (cache[0], cache[1].cpu()[kc], torch.nonzero(kc).flatten())
        self.cache_slots = int(cache[2]) if cache is not None and len(cache) > 2 else None
        z, y = z[keep], y[keep]
        self.k = kernel_size
        p = kernel_size // 2
        self.h, self.w = y.shape[-2:]
        self.zp = torch.nn.functional.pad(z, (p, p, p, p)).permute(0, 2, 3, 1).contiguous()  # (N, h+2p, w+2p, D)
        self.y = y[:, 0]
        P = self.h * self.w
        wts = (sample_weights[keep] / P).view(-1, 1, 1, 1).to(y.dtype)
        if pixel_weights is not None:
            wts = wts * pixel_weights[keep]
        self.sqrt_w = wts.sqrt()[:, 0]  # (N, h, w)
        self.pixel_weights = None if pixel_weights is None else pixel_weights[keep][:, 0]
        self.reg = float(reg)
        self.sqrt_reg = float(reg) ** 0.5
        self.D = z.shape[1]

    def _patches(self, j: int) -> torch.Tensor:
        """A_j: (h*w, D*k*k) patch matrix of sample j, columns in ``w2.reshape(D, k*k)`` order."""
        k, h, w = self.k, self.h, self.w
        zj = self.zp[j]
        cols = [zj[dy : dy + h, dx : dx + w] for dy, dx in (divmod(i, k) for i in range(k * k))]
        return torch.stack(cols, dim=-1).reshape(h * w, self.D * k * k)  # (h, w, D, k*k) -> rows

    def _sample_system(self, j: int):
        A = self._patches(j)
        pw = (
            torch.ones(self.h * self.w, dtype=A.dtype, device=A.device)
            if self.pixel_weights is None
            else self.pixel_weights[j].reshape(-1)
        )
        P = self.h * self.w
        Aw = A * (pw / P)[:, None]
        return A.T @ Aw, Aw.T @ self.y[j].reshape(-1)

    def normal_equations(self):
        """(M (n, n), b (n,)), n = D*k*k, of min_w sum_j alpha_j |A_j w - y_j|^2_Pi/P + reg |w|^2."""
        n = self.D * self.k * self.k
        dev = self.zp.device
        M = torch.zeros(n, n, dtype=torch.float64, device=dev)
        b = torch.zeros(n, dtype=torch.float64, device=dev)
        store, keys, slots = self.cache if self.cache is not None else (None, None, None)
        if store is not None and ("gram" not in store or store["gram"].shape[1] != n):
            store.clear()
        for j in range(len(self.alpha)):
            if store is None:
                G, r = self._sample_system(j)
            else:
                slot = int(slots[j])
                if slot >= store.get("gram", torch.empty(0)).shape[0]:  # grow with the memory
                    size = max(slot + 1, 2 * store.get("gram", torch.empty(0)).shape[0])
                    if self.cache_slots is not None:  # never more blocks than the memory has slots
                        size = max(slot + 1, min(size, self.cache_slots))
                    for name, shape, fill in (("gram", (n, n), 0), ("rhs", (n,), 0), ("key", (), -1)):
                        old = store.get(name)
                        dtype = torch.long if name == "key" else torch.float32
                        new = torch.full((size,) + shape, fill, dtype=dtype, device="cpu" if name == "key" else dev)
                        if old is not None:
                            new[: old.shape[0]] = old
                        store[name] = new
                if int(store["key"][slot]) != int(keys[j]):
                    store["gram"][slot], store["rhs"][slot] = self._sample_system(j)
                    store["key"][slot] = int(keys[j])
                G, r = store["gram"][slot], store["rhs"][slot]
            M += self.alpha[j] * G.double()
            b += self.alpha[j] * r.double()
        M.diagonal().add_(self.reg)
        return M, b

    def solve_exact(self, w2: torch.Tensor) -> torch.Tensor:
        """The minimiser of eq. 9 in W2, shaped like ``w2`` (1, D, k, k)."""
        M, b = self.normal_equations()
        return torch.linalg.solve(M, b).to(device=w2.device, dtype=w2.dtype).reshape(w2.shape)

    def _apply(self, w2: torch.Tensor) -> torch.Tensor:
        """A w2: (1, D, k, k) -> (N, h, w) filter responses."""
        k, h, w = self.k, self.h, self.w
        P = self.zp @ w2.reshape(self.D, k * k)  # (N, h+2p, w+2p, k*k)
        out = P[:, 0:h, 0:w, 0].clone()
        for i in range(1, k * k):
            dy, dx = divmod(i, k)
            out += P[:, dy : dy + h, dx : dx + w, i]
        return out

    def _apply_t(self, g: torch.Tensor) -> torch.Tensor:
        """A^T g: (N, h, w) -> (1, D, k, k)."""
        k, h, w = self.k, self.h, self.w
        N, Hp, Wp, D = self.zp.shape
        G = g.new_zeros((N, Hp, Wp, k * k))
        for i in range(k * k):
            dy, dx = divmod(i, k)
            G[:, dy : dy + h, dx : dx + w, i] = g
        out = self.zp.reshape(-1, D).T @ G.reshape(-1, k * k)  # (D, k*k)
        return out.reshape(1, D, k, k)

    def __call__(self, params: List[torch.Tensor]) -> List[torch.Tensor]:
        w2 = params[0]
        return [(self.sqrt_w * (self._apply(w2) - self.y))[:, None], self.sqrt_reg * w2]

    def linearise(self, params: List[torch.Tensor]) -> "_ExplicitLinearisation":
        return _ExplicitLinearisation(self, params[0].detach())


class _ExplicitLinearisation:
    def __init__(self, obj: LinearFilterObjective, w2: torch.Tensor):
        self.obj = obj
        self.residuals = obj([w2])
        self.grad = self.vjp(self.residuals)

    def jvp(self, v):
        o = self.obj
        return [(o.sqrt_w * o._apply(v[0]))[:, None], o.sqrt_reg * v[0]]

    def vjp(self, u):
        o = self.obj
        return [o._apply_t(o.sqrt_w * u[0][:, 0]) + o.sqrt_reg * u[1]]

    def gn_product(self, v):
        return self.vjp(self.jvp(v))


def objective_value(residual_fn: ResidualFn, params: List[torch.Tensor]) -> float:
    """Sum of squared residuals (the value of eq. 9)."""
    with torch.no_grad():
        return float(sum((r.double() ** 2).sum() for r in residual_fn(list(params))))


class _Linearisation:
    """J and J^T of ``residual_fn`` at ``params`` via autograd (one graph, reused).

    Attributes: ``residuals`` r(params) and ``grad`` = J^T r (half the gradient of ||r||^2)."""

    def __init__(self, residual_fn: ResidualFn, params: List[torch.Tensor]):
        self.params = [p.detach().requires_grad_(True) for p in params]
        self.r = residual_fn(self.params)
        self.residuals = [ri.detach() for ri in self.r]
        self.u = [ri.detach().requires_grad_(True) for ri in self.r]
        self.jt_u = torch.autograd.grad(self.r, self.params, grad_outputs=self.u, create_graph=True, allow_unused=True)
        self.jt_u = [torch.zeros_like(p) if g is None else g for g, p in zip(self.jt_u, self.params)]
        self.grad = [g.detach() for g in self.jt_u]  # u holds r's values, so J^T u = J^T r

    def jvp(self, v: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        """J v (one tensor per residual) by the double-backward trick."""
        out = torch.autograd.grad(self.jt_u, self.u, grad_outputs=list(v), retain_graph=True, allow_unused=True)
        return [torch.zeros_like(u) if o is None else o for o, u in zip(out, self.u)]

    def vjp(self, u: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        """J^T u (one tensor per parameter)."""
        out = torch.autograd.grad(self.r, self.params, grad_outputs=list(u), retain_graph=True, allow_unused=True)
        return [torch.zeros_like(p) if o is None else o.detach() for o, p in zip(out, self.params)]

    def gn_product(self, v: Sequence[torch.Tensor]) -> List[torch.Tensor]:
        """J^T J v."""
        return self.vjp(self.jvp(v))


def linearise(residual_fn, params: List[torch.Tensor]):
    """The residuals, J^T r, and J v / J^T u products at ``params``: from the objective itself
    when it provides ``linearise`` (exact linear algebra, e.g. :class:`LinearFilterObjective`),
    otherwise from autograd (:class:`_Linearisation`)."""
    if hasattr(residual_fn, "linearise"):
        return residual_fn.linearise(params)
    return _Linearisation(residual_fn, params)


def hinge_pixel_weights(y: torch.Tensor, target_fraction: float = 0.1) -> torch.Tensor:
    """FRTM's class-balancing pixel weights pi for eq. 9: when the target covers a fraction a < tf of
    the label map, foreground pixels get tf/a and background (1-tf)/(1-a), so a small target weighs
    tf of the loss; larger targets (or fewer than 10 foreground cells) get weight 1.
    y (N, 1, h, w) in [0, 1] -> (N, 1, h, w)."""
    N = y.shape[0]
    px = y.sum(dim=(1, 2, 3))
    a = px / (y.shape[-1] * y.shape[-2])
    small = (px >= 10) & (a < target_fraction)
    a = torch.where(small, a, torch.full_like(a, target_fraction)).clamp(1e-6, 1 - 1e-6)
    wf = torch.where(small, target_fraction / a, torch.ones_like(a)).view(N, 1, 1, 1)
    wb = torch.where(small, (1 - target_fraction) / (1 - a), torch.ones_like(a)).view(N, 1, 1, 1)
    return wf * y + wb * (1 - y)
