"""Online solvers for eq. 9: Gauss-Newton-CG vs gradient descent, explicit vs autograd products."""

import pytest
import torch
from detectron2.config import LazyCall as L
from detectron2.config import instantiate

import uvmos  # noqa: F401
from uvmos.modeling.tnet.appearance import ConvTargetModel
from uvmos.modeling.tnet.objective import _Linearisation
from uvmos.modeling.tnet.solver import (
    GaussNewtonCG,
    GradientDescent,
    LinearFilterObjective,
    TargetObjective,
    hinge_pixel_weights,
    objective_value,
)
from uvmos.registry import ONLINE_SOLVER_REGISTRY, TARGET_MODEL_REGISTRY, build


def _known_problem(seed=0, C=16, h=10, w=14, N=2):
    """Features X and labels y = T(X; W*) of a hidden target model W* (a reachable optimum)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.relu(torch.randn(N, C, h, w, generator=g))
    tm = ConvTargetModel(hidden_channels=8)
    w_star = [torch.randn(8, C, 1, 1, generator=g) * 0.3, torch.randn(1, 8, 3, 3, generator=g) * 0.3]
    y = tm(x, w_star).detach()
    p0 = tm.init_params(x, generator=g)
    obj = TargetObjective(tm, x, y, torch.tensor([0.7, 0.3]), regs=(1e-6, 1e-6))
    return tm, obj, p0


def test_gauss_newton_beats_gradient_descent_at_equal_steps():
    tm, obj, p0 = _known_problem()
    f0 = objective_value(obj, p0)
    for steps in (1, 3, 5):
        gn = objective_value(obj, GaussNewtonCG(init_cg_iters=(10,)).solve(obj, p0, num_steps=steps))
        gd = objective_value(obj, GradientDescent().solve(obj, p0, num_steps=steps))
        gd_lr = objective_value(obj, GradientDescent(lr=1e-3).solve(obj, p0, num_steps=steps))
        assert gn < f0 and gd < f0
        assert gn < gd and gn < gd_lr, (steps, gn, gd, gd_lr)
    # GN after 5 steps is far below GD's value after 5x as many steps
    gn5 = objective_value(obj, GaussNewtonCG(init_cg_iters=(10,)).solve(obj, p0, num_steps=5))
    gd25 = objective_value(obj, GradientDescent().solve(obj, p0, num_steps=25))
    assert gn5 < 0.5 * gd25


def test_gauss_newton_solves_linear_least_squares():
    """W2 alone is linear least squares: GN with enough CG iterations reaches the lstsq optimum."""
    g = torch.Generator().manual_seed(1)
    z = torch.randn(3, 4, 6, 7, generator=g, dtype=torch.float64)
    y = torch.rand(3, 1, 6, 7, generator=g, dtype=torch.float64)
    sw = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
    reg = 1e-3
    obj = LinearFilterObjective(z, y, sw, reg)
    w0 = torch.zeros(1, 4, 3, 3, dtype=torch.float64)
    w = GaussNewtonCG(update_cg_iters=(60,)).solve(obj, [w0], phase="update")[0]
    # dense normal equations from the explicit operator
    n = w0.numel()
    cols = [obj.linearise([w0]).jvp([torch.eye(n, dtype=torch.float64)[i].view_as(w0)]) for i in range(n)]
    A = torch.stack([torch.cat([c[0].flatten(), c[1].flatten()]) for c in cols], dim=1)
    b = -torch.cat([r.flatten() for r in obj([w0])])
    w_ls = torch.linalg.lstsq(A, b[:, None]).solution.view_as(w0)
    assert torch.allclose(w, w_ls, atol=1e-6)


def test_explicit_linear_filter_matches_autograd():
    g = torch.Generator().manual_seed(2)
    z = torch.randn(4, 6, 5, 9, generator=g)
    y = torch.rand(4, 1, 5, 9, generator=g)
    sw, pw = torch.rand(4, generator=g), torch.rand(4, 1, 5, 9, generator=g)
    w2 = torch.randn(1, 6, 3, 3, generator=g)
    tm = ConvTargetModel(hidden_channels=6)
    auto = TargetObjective(lambda x, p: tm.filter(x, p[0]), z, y, sw, (1e-3,), pw)
    expl = LinearFilterObjective(z, y, sw, 1e-3, pw)
    for a, b in zip(auto([w2]), expl([w2])):
        assert torch.allclose(a, b, atol=1e-5)
    la, lb = _Linearisation(auto, [w2]), expl.linearise([w2])
    v = [torch.randn(1, 6, 3, 3, generator=g)]
    assert torch.allclose(la.grad[0], lb.grad[0], atol=1e-5)
    assert torch.allclose(la.gn_product(v)[0], lb.gn_product(v)[0], rtol=1e-4, atol=1e-5)


def test_target_model_gemm_form_equals_convolutions():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 12, 7, 9, generator=g)
    tm = ConvTargetModel(hidden_channels=5)
    p = tm.init_params(x, generator=g)
    assert p[0].shape == (5, 12, 1, 1) and p[1].shape == (1, 5, 3, 3)
    assert torch.allclose(tm(x, p), tm.filter(tm.project(x, p[0]), p[1]), atol=1e-5)
    # PCA projection: channels of W1 * X have unit variance on average
    z = tm.project(x, p[0])
    assert abs(float(z.var(dim=(0, 2, 3)).mean()) - 1.0) < 0.1


def test_hinge_pixel_weights():
    y = torch.zeros(2, 1, 10, 10)
    y[0, 0, :3, :8] = 1  # 24 % foreground (> 20 %): weights 1
    y[1, 0, :2, :2] = 1  # 4 pixels (< 10): weights 1
    assert torch.equal(hinge_pixel_weights(y, 0.2), torch.ones_like(y))
    y2 = torch.zeros(1, 1, 10, 10)
    y2[0, 0, :2, :6] = 1  # a = 0.12 < 0.2
    w = hinge_pixel_weights(y2, 0.2)
    assert torch.allclose(w[y2 > 0], torch.full((12,), 0.2 / 0.12))
    assert torch.allclose(w[y2 == 0], torch.full((88,), 0.8 / 0.88))
    assert torch.isclose((w * y2).sum() / w.sum(), torch.tensor(0.2))


def test_build_by_name_and_lazycall():
    gn = build(ONLINE_SOLVER_REGISTRY, "GaussNewtonCG", init_cg_iters=(3,))
    gd = instantiate(L(GradientDescent)(init_steps=2))
    tm = build(TARGET_MODEL_REGISTRY, "ConvTargetModel", hidden_channels=4)
    assert isinstance(gn, GaussNewtonCG) and gn.init_cg_iters == (3,)
    assert isinstance(gd, GradientDescent) and gd.init_steps == 2
    assert isinstance(tm, ConvTargetModel)
    with pytest.raises(KeyError, match="GaussNewtonCG"):
        build(ONLINE_SOLVER_REGISTRY, "NoSuchSolver")
    with pytest.raises(ValueError, match="phase"):
        gn.solve(lambda p: p, [torch.zeros(1)], phase="bogus")


def test_direct_normal_equations_match_cg_and_reuse_the_gram_cache():
    """GaussNewtonCG(direct=True) on the linear W2 problem gives CG's converged solution; the
    per-sample Gram blocks are cached by slot key and recomputed only when a slot's key changes."""
    torch.manual_seed(0)
    N, D, h, w = 4, 6, 5, 7
    z, y = torch.randn(N, D, h, w), torch.rand(N, 1, h, w)
    a, pw = torch.rand(N) + 0.1, torch.rand(N, 1, h, w) + 0.5
    w2 = torch.zeros(1, D, 3, 3)
    cg = GaussNewtonCG(update_cg_iters=(300,)).solve(LinearFilterObjective(z, y, a, 1e-3, pw), [w2], phase="update")[0]
    store, keys = {}, torch.arange(N)
    direct = GaussNewtonCG(direct=True)
    ex = direct.solve(LinearFilterObjective(z, y, a, 1e-3, pw, cache=(store, keys)), [w2], phase="update")[0]
    assert torch.allclose(cg, ex, atol=1e-5)
    assert store["gram"].shape[1:] == (D * 9, D * 9) and (store["key"][:N] == keys).all()
    # new weights, same samples: the cache is reused and the answer is the uncached one
    gram0 = store["gram"].clone()
    ex2 = direct.solve(LinearFilterObjective(z, y, 2 * a, 1e-3, pw, cache=(store, keys)), [w2], phase="update")[0]
    assert torch.equal(store["gram"], gram0)
    assert torch.allclose(ex2, direct.solve(LinearFilterObjective(z, y, 2 * a, 1e-3, pw), [w2], phase="update")[0])
    # slot 1 holds a new sample (new key): only its block changes
    z2 = z.clone()
    z2[1] = torch.randn(D, h, w)
    direct.solve(
        LinearFilterObjective(z2, y, a, 1e-3, pw, cache=(store, torch.tensor([0, 9, 2, 3]))), [w2], phase="update"
    )
    changed = [(store["gram"][i] != gram0[i]).any().item() for i in range(N)]
    assert changed == [False, True, False, False]
    # with the memory's capacity given, the cache holds no more blocks than it has slots
    z5, y5, a5, pw5 = (torch.cat([t, t[:1]]) for t in (z, y, a, pw))
    for cap, blocks in ((None, 8), (5, 5)):  # 5 samples: the blocks grow 1, 2, 4, then 8 or the capacity
        capped = {}
        cache = (capped, torch.arange(5)) if cap is None else (capped, torch.arange(5), cap)
        direct.solve(LinearFilterObjective(z5, y5, a5, 1e-3, pw5, cache=cache), [w2], phase="update")
        assert capped["gram"].shape[0] == blocks


def test_cg_tol_stops_early():
    torch.manual_seed(1)
    z, y = torch.randn(3, 4, 6, 6), torch.rand(3, 1, 6, 6)
    obj = LinearFilterObjective(z, y, torch.ones(3), 1e-3)
    full, early = GaussNewtonCG(update_cg_iters=(50,)), GaussNewtonCG(update_cg_iters=(50,), cg_tol=1e-2)
    w_full = full.solve(obj, [torch.zeros(1, 4, 3, 3)], phase="update")[0]
    w_early = early.solve(obj, [torch.zeros(1, 4, 3, 3)], phase="update")[0]
    assert early.cg_iterations < full.cg_iterations
    assert objective_value(obj, [w_early]) <= 1.05 * objective_value(obj, [w_full])
