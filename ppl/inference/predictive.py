"""``ppl.predictive``: prior predictive draws of a model, on either backend.

Posterior predictive draws are ``Posterior.predictive``; both go through the backend's own
``Predictive`` and return the same sites on both backends.

>>> import ppl
>>> from ppl import dist
>>> def model(n):
...     mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
...     with ppl.plate("data", n):
...         ppl.sample("y", dist.Normal(mu, 1.0))
>>> draws = ppl.predictive(model, args=(3,), num_samples=100, backend="pyro")
>>> sorted((k, v.shape) for k, v in draws.items())
[('mu', (100,)), ('y', (100, 3))]
"""

from __future__ import annotations

from ..backends import bind, get_backend
from ..errors import OptionError

__all__ = ["predictive"]


def predictive(model, args=(), kwargs=None, num_samples: int = 1000, backend=None, seed: int = 0):
    """``num_samples`` draws from the prior predictive of ``model(*args, **kwargs)``.

    Parameters
    ----------
    model : callable
        A model written with ``ppl.sample``/``ppl.plate``.
    args, kwargs
        The model's arguments (numpy arrays and lists are converted as ``ppl.infer`` converts
        them); leave observations out (``y=None``) to draw them.
    num_samples : int
        Draws to make, at least 1.
    backend : str, optional
        ``"numpyro"`` or ``"pyro"``; the active backend if unset.
    seed : int
        Random seed.

    Returns
    -------
    dict
        ``{site: numpy array (num_samples, *shape)}`` of every sample and deterministic site
        (``factor`` sites left out).
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
        raise OptionError(f"num_samples must be an integer >= 1, got {num_samples!r}.")
    chosen = get_backend(backend)
    args, kwargs = chosen.convert_args(args, kwargs)
    return chosen.predictive(bind(model, chosen.name), {}, args, kwargs, seed, num_samples)
