"""The online colour models of the real-video proposer (uvmos/modeling/proposers/colour_model.py)."""

import numpy as np
import pytest

from uvmos.modeling.proposers.colour_model import ColourModel


def _frame():
    img = np.zeros((40, 60, 3), np.uint8)
    img[:] = (200, 120, 40)  # background colour
    img[10:30, 20:40] = (20, 30, 220)  # object colour
    fg = np.zeros((40, 60), bool)
    fg[10:30, 20:40] = True
    return img, fg


def test_learns_foreground_and_background_colours():
    cm = ColourModel(bins=16, rate=0.5, bg_margin=2)
    img, fg = _frame()
    assert cm.foreground_prob(img) is None  # nothing learnt yet
    cm.update(img, fg)
    p = cm.foreground_prob(img)
    assert p.shape == fg.shape and p.dtype == np.float32
    assert p[fg].min() > 0.99 and p[~fg].max() < 0.01
    unseen = np.full((4, 4, 3), (90, 250, 90), np.uint8)
    assert np.allclose(cm.foreground_prob(unseen), 0.5)  # a colour neither model has seen


def test_forgets_at_its_rate_and_ignores_empty_masks():
    cm = ColourModel(bins=16, rate=0.5, bg_margin=2)
    img, fg = _frame()
    cm.update(img, fg)
    cm.update(img, np.zeros_like(fg))  # no foreground: the models are kept as they are
    assert cm.foreground_prob(img)[fg].min() > 0.99
    swapped = img.copy()
    swapped[fg], swapped[~fg] = (200, 120, 40), (20, 30, 220)  # the colours trade places
    cm.update(swapped, fg)
    p = cm.foreground_prob(img)
    assert 0.3 < p[fg].mean() < 0.7  # half of each model now comes from the swapped frame
    cm.reset()
    assert cm.foreground_prob(img) is None


def test_rejects_bad_bins():
    with pytest.raises(ValueError, match="bins"):
        ColourModel(bins=1)
