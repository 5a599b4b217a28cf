"""Online solvers for the target-model objective of eq. 9 (paper §3.2, §4.1).

The objective, its residuals and their linearisation: :mod:`uvmos.modeling.tnet.objective`
(re-exported here). Solvers share one interface,
``solve(residual_fn, params, phase="init"|"update", num_steps=None)``:

* :class:`GaussNewtonCG` -- Gauss-Newton, each normal equation (J^T J) d = -J^T r solved
  approximately by (preconditioned) conjugate gradient, as in FRTM (Robinson et al., CVPR 2020),
  which the paper uses "with the default settings". J v and J^T u come from autograd; J v uses the
  double-backward trick: g(u) = J^T u is linear in u, so d<g(u), v>/du = J v.
* :class:`GradientDescent` -- steepest descent, with the exact step for the local quadratic model
  (``lr=None``) or a fixed learning rate; the comparison baseline.
"""

from __future__ import annotations

from typing import List, Optional, Sequence, Union

import torch

from uvmos.registry import ONLINE_SOLVER_REGISTRY

# re-exported: tools/bench_solver.py imports the objectives from here
from .objective import (
    LinearFilterObjective,
    ResidualFn,
    TargetObjective,
    hinge_pixel_weights,
    linearise,
    objective_value,
)

__all__ = [
    "TargetObjective",
    "LinearFilterObjective",
    "linearise",
    "GaussNewtonCG",
    "GradientDescent",
    "objective_value",
    "hinge_pixel_weights",
]


def _dot(a: Sequence[torch.Tensor], b: Sequence[torch.Tensor]) -> torch.Tensor:
    return sum((x * y).sum() for x, y in zip(a, b))


def _as_schedule(phase: str, init: Sequence[int], update: Sequence[int], num_steps: Optional[int]) -> List[int]:
    if phase not in ("init", "update"):
        raise ValueError(f"solver phase must be 'init' or 'update', got {phase!r}")
    sched = list(init if phase == "init" else update)
    if num_steps is not None:
        sched = [sched[min(i, len(sched) - 1)] for i in range(num_steps)] if sched else []
    return sched


@ONLINE_SOLVER_REGISTRY.register()
class GaussNewtonCG:
    """Gauss-Newton with conjugate gradient for eq. 9 (FRTM's optimiser, own implementation).

    Args:
        init_cg_iters: CG iterations of each GN step when a target model is first fitted on the
            pseudo label y0 (one entry per GN step; FRTM default ``(5, 10, 10, 10, 10)``).
        update_cg_iters: the same for memory updates (FRTM default ``(10,)``).
        precond: optional diagonal preconditioner, one positive scalar per parameter tensor
            (the CG residual of tensor k is divided by ``precond[k]``); None = identity.
        step_length: scale of each GN step (1 = the full step).
        cg_tol: CG stops early once the (preconditioned) residual norm falls below ``cg_tol``
            times its initial value (0 = always run the scheduled iterations). A warm-started
            memory update usually converges in a few iterations, so this saves most of the cost.
        direct: for a linear problem that offers its normal equations (the W2 fit of
            :class:`LinearFilterObjective`), solve them exactly (Cholesky-class solve of the
            (D*k*k)^2 system) instead of by CG: one Gauss-Newton step is then the exact minimiser,
            and with the memory's per-sample Gram cache a refit costs one small solve.
    """

    def __init__(
        self,
        init_cg_iters: Sequence[int] = (5, 10, 10, 10, 10),
        update_cg_iters: Sequence[int] = (10,),
        precond: Optional[Sequence[float]] = None,
        step_length: float = 1.0,
        cg_tol: float = 0.0,
        direct: bool = False,
    ):
        self.init_cg_iters = tuple(init_cg_iters)
        self.update_cg_iters = tuple(update_cg_iters)
        self.precond = None if precond is None else tuple(float(p) for p in precond)
        self.step_length = step_length
        self.cg_tol = float(cg_tol)
        self.direct = bool(direct)
        self.cg_iterations = 0  # CG iterations run so far (diagnostics: docs/tnet.md)

    @torch.enable_grad()
    def solve(
        self, residual_fn: ResidualFn, params: List[torch.Tensor], phase: str = "init", num_steps: Optional[int] = None
    ) -> List[torch.Tensor]:
        """Run the GN steps of ``phase`` (or ``num_steps`` of them); returns new detached params."""
        params = [p.detach() for p in params]
        if self.direct and hasattr(residual_fn, "solve_exact") and len(params) == 1:
            return [residual_fn.solve_exact(params[0])]
        for cg_iters in _as_schedule(phase, self.init_cg_iters, self.update_cg_iters, num_steps):
            lin = linearise(residual_fn, params)
            delta = self._cg(lin, [-g for g in lin.grad], cg_iters)
            params = [p + self.step_length * d for p, d in zip(params, delta)]
        return params

    def _precondition(self, r: List[torch.Tensor]) -> List[torch.Tensor]:
        if self.precond is None:
            return r
        if len(self.precond) != len(r):
            raise ValueError(f"GaussNewtonCG: precond has {len(self.precond)} entries for {len(r)} parameter tensors")
        return [ri / m for ri, m in zip(r, self.precond)]

    def _cg(self, lin, b: List[torch.Tensor], iters: int) -> List[torch.Tensor]:
        """Preconditioned CG on (J^T J) x = b from x = 0."""
        x = [torch.zeros_like(bi) for bi in b]
        r = [bi.clone() for bi in b]
        z = self._precondition(r)
        p = [zi.clone() for zi in z]
        rz = _dot(r, z)
        stop = max(float(rz) * self.cg_tol**2, 1e-30)
        for _ in range(iters):
            if float(rz) <= stop:
                break
            self.cg_iterations += 1
            q = lin.gn_product(p)
            pq = _dot(p, q)
            if float(pq) <= 1e-30:  # no curvature left along p
                break
            alpha = rz / pq
            x = [xi + alpha * pi for xi, pi in zip(x, p)]
            r = [ri - alpha * qi for ri, qi in zip(r, q)]
            z = self._precondition(r)
            rz_new = _dot(r, z)
            beta = rz_new / rz
            p = [zi + beta * pi for zi, pi in zip(z, p)]
            rz = rz_new
        return x


@ONLINE_SOLVER_REGISTRY.register()
class GradientDescent:
    """Steepest descent on eq. 9 (baseline for the Gauss-Newton solver, same interface).

    Args:
        init_steps / update_steps: steps when first fitting on y0 / at each memory update.
        lr: fixed learning rate on the gradient of L = ||r||^2; ``None`` takes the exact minimiser
            of the local Gauss-Newton quadratic along the gradient, ``||g||^2 / ||J g||^2`` (one
            extra J v product per step, no tuning).
        momentum: heavy-ball momentum (0 = none).
    """

    def __init__(self, init_steps: int = 5, update_steps: int = 1, lr: Optional[float] = None, momentum: float = 0.0):
        self.init_steps = int(init_steps)
        self.update_steps = int(update_steps)
        self.lr = lr
        self.momentum = momentum

    @torch.enable_grad()
    def solve(
        self, residual_fn: ResidualFn, params: List[torch.Tensor], phase: str = "init", num_steps: Optional[int] = None
    ) -> List[torch.Tensor]:
        params = [p.detach() for p in params]
        sched = _as_schedule(phase, [1] * self.init_steps, [1] * self.update_steps, num_steps)
        velocity: Optional[List[torch.Tensor]] = None
        for _ in sched:
            lin = linearise(residual_fn, params)
            g = lin.grad  # J^T r = 0.5 dL/dW
            if self.lr is None:
                jg = lin.jvp(g)
                gg, jgjg = float(_dot(g, g)), float(_dot(jg, jg))
                if gg <= 1e-30 or jgjg <= 1e-30:
                    break
                step = [-(gg / jgjg) * gi for gi in g]
            else:
                step = [-2.0 * self.lr * gi for gi in g]
            if self.momentum:
                velocity = step if velocity is None else [s + self.momentum * v for s, v in zip(step, velocity)]
                step = velocity
            params = [p + s for p, s in zip(params, step)]
        return params


Solver = Union[GaussNewtonCG, GradientDescent]
