"""On torch, ``seed`` forks the global generator: the caller's random state is untouched."""

from __future__ import annotations

import pytest

import ppl
from ppl import dist, handlers
from ppl.errors import HandlerError

torch = pytest.importorskip("torch")


def test_seed_leaves_torch_global_state_untouched():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    with ppl.backend("pyro"), handlers.seed(rng_seed=0):
        ppl.sample("x", dist.Normal(0.0, 1.0).expand([5]))
        torch.rand(7)
    assert torch.equal(torch.rand(3), expected)


def test_site_draws_do_not_depend_on_other_draws_in_between():
    """Each site gets its own key, so unrelated draws between sites do not shift it."""

    def model(noise):
        ppl.sample("a", dist.Normal(0.0, 1.0))
        if noise:
            torch.rand(11)
        return ppl.sample("b", dist.Normal(0.0, 1.0))

    with ppl.backend("pyro"):
        assert float(handlers.seed(model, rng_seed=2)(False)) == float(
            handlers.seed(model, rng_seed=2)(True)
        )


def test_seed_none_outside_any_seed_is_an_error():
    with ppl.backend("pyro"), pytest.raises(HandlerError, match="enclosing seed"):
        with handlers.seed(rng_seed=None):
            pass
