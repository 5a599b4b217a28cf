"""Memory policies of §3.2: sample weights, doubling, normalisation, refit schedule, capacity."""

import math

import pytest
import torch
from detectron2.config import LazyCall as L
from detectron2.config import instantiate

import uvmos  # noqa: F401
from uvmos.modeling.tnet.memory import AdaptiveMemory, FixedRateMemory, NoUpdateMemory
from uvmos.registry import MEMORY_REGISTRY, build


def _sample(v=0.0):
    return torch.full((1, 2, 3, 3), v), torch.full((1, 1, 3, 3), 0.5)


def test_adaptive_weights_follow_the_formula_and_normalise():
    g = 0.1
    pol = AdaptiveMemory(gamma=g, capacity=10, update_every=8)
    mem = pol.init(*_sample(0))
    assert mem.size == 1 and math.isclose(float(mem.weights.sum()), 1.0)
    verified = [False, True, False, True, True]
    for i, v in enumerate(verified):
        pol.step(mem, *_sample(i + 1), verified=v)
    # alpha_0 = gamma, alpha_j = alpha_{j-1} / (1 - gamma), doubled when verified, then normalised
    raw = [g] + [g / (1 - g) ** (j + 1) * (2.0 if v else 1.0) for j, v in enumerate(verified)]
    expected = torch.tensor(raw, dtype=torch.float64) / sum(raw)
    assert torch.allclose(mem.weights[: mem.size], expected, atol=1e-12)
    assert math.isclose(float(mem.weights.sum()), 1.0, rel_tol=1e-12)
    assert mem.verified[: mem.size].tolist() == [False] + verified
    assert torch.equal(mem.samples[3], torch.full((2, 3, 3), 3.0))  # stored in order


def test_adaptive_refit_schedule():
    pol = AdaptiveMemory(update_every=8)
    mem = pol.init(*_sample())
    fits = []
    for t in range(1, 21):
        verified = t == 5
        if pol.step(mem, *_sample(t), verified=verified):
            pol.fitted(mem)
            fits.append(t)
    # at once when verified (5), otherwise every 8 frames since the last fit (13 and 21 -> 13 only)
    assert fits == [5, 13]
    assert mem.num_fits == 2
    # no result (lost target): counted, not stored
    size = mem.size
    pol.step(mem, None, None)
    assert mem.size == size


def test_capacity_bound_replaces_the_lowest_weight_and_stays_finite():
    pol = AdaptiveMemory(gamma=0.1, capacity=5)
    mem = pol.init(*_sample(-1))
    for t in range(2000):  # (1-gamma)^-2000 would overflow without normalisation
        pol.step(mem, *_sample(t), verified=(t == 1995))
    assert mem.size == 5 and mem.capacity == 5
    assert torch.isfinite(mem.weights).all() and math.isclose(float(mem.weights.sum()), 1.0, rel_tol=1e-9)
    stored = sorted(float(s[0, 0, 0]) for s in mem.samples)
    assert stored == [1995.0, 1996.0, 1997.0, 1998.0, 1999.0]  # the newest survive
    i1995 = [float(s[0, 0, 0]) for s in mem.samples].index(1995.0)
    assert bool(mem.verified[i1995])


def test_fixed_rate_and_no_update():
    fr = FixedRateMemory(gamma=0.2, capacity=10, update_every=3)
    mem = fr.init(*_sample())
    fits = []
    for t in range(1, 8):
        if fr.step(mem, *_sample(t), verified=True):  # verification changes nothing here
            fr.fitted(mem)
            fits.append(t)
    assert fits == [3, 6]
    raw = torch.tensor([0.2 / 0.8**j for j in range(8)], dtype=torch.float64)
    assert torch.allclose(mem.weights[:8], raw / raw.sum())

    nu = NoUpdateMemory()
    mem = nu.init(*_sample())
    assert not any(nu.step(mem, *_sample(t), verified=True) for t in range(20))
    assert mem.size == 1


def test_build_and_bad_arguments():
    assert isinstance(build(MEMORY_REGISTRY, "AdaptiveMemory", gamma=0.2), AdaptiveMemory)
    assert isinstance(instantiate(L(FixedRateMemory)(update_every=4)), FixedRateMemory)
    assert isinstance(build(MEMORY_REGISTRY, "NoUpdateMemory"), NoUpdateMemory)
    with pytest.raises(ValueError, match="gamma"):
        AdaptiveMemory(gamma=1.5)
    with pytest.raises(ValueError, match="capacity"):
        AdaptiveMemory(capacity=0)
