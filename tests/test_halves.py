"""`in_halves`: a per-event function on a chunk's two halves at once gives the whole's numbers."""

import numpy as np
import pytest

from lhcgan import physics
from lhcgan.halves import MIN_EVENTS, in_halves


def per_event(p: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray], None]:
    return physics.rotate_azimuth(p, u), {"pt": physics.pt(p).sum(1), "first": p[:, 0, 2]}, None


@pytest.mark.parametrize("n", [MIN_EVENTS - 1, MIN_EVENTS, 3 * MIN_EVENTS + 1])
def test_halves_give_the_whole(n):
    rng = np.random.default_rng(n)
    p, u = rng.normal(size=(n, 6, 3)) * 100, rng.random(n)
    whole, halves = per_event(p, u), in_halves(per_event, p, u)
    np.testing.assert_array_equal(halves[0], whole[0])
    assert halves[1].keys() == whole[1].keys() and halves[2] is None
    for k in whole[1]:
        np.testing.assert_array_equal(halves[1][k], whole[1][k])


def test_an_error_in_either_half_is_raised_in_the_caller():
    p = np.zeros((2 * MIN_EVENTS, 3))

    def fails_on_the_second_half(x: np.ndarray) -> np.ndarray:
        if x[0, 0] == 1:  # only the second half starts with a one
            raise ValueError("second half")
        return x

    p[MIN_EVENTS:, 0] = 1
    with pytest.raises(ValueError, match="second half"):
        in_halves(fails_on_the_second_half, p)
