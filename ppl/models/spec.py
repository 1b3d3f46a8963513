"""``ModelSpec``: a ready model with its default data and what is known about its posterior.

>>> import numpy as np
>>> from ppl.models.spec import ModelSpec
>>> spec = ModelSpec(name="demo", model=lambda: None, family="demo", description="a demo",
...                  reference={"beta": {"mean": np.array([1.0, 2.0]), "sd": np.array([1.0, 1.0])}})
>>> draws = {"beta": np.array([[[1.5, 2.0], [0.5, 2.0]]])}  # (chain, draw, *shape)
>>> {k: round(v["mean_err"], 3) for k, v in spec.compare(draws).items()}
{'beta[1]': 0.0, 'beta[2]': 0.0}
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["ModelSpec", "compare", "converting_args", "element_names"]


@dataclass(frozen=True, repr=False)
class ModelSpec:
    """A registered model.

    Attributes
    ----------
    name, family, description : str
        Registry name, the family it belongs to, and one line saying what it is.
    model : callable
        An ordinary ``ppl`` model function, called as ``model(*args, **kwargs)``; stored
        wrapped by ``converting_args``, so numpy arguments work on either backend.
    args, kwargs : tuple, dict
        The default data (numpy arrays and Python scalars).
    backends : tuple of str
        The backends the model runs on.
    reference : dict or None
        Known posterior moments, ``{site: {"mean": array, "sd": array}}`` in the model's own site
        names and shapes.
    log_z : float or None
        The true log-normalizer of the (unnormalized) model density, where known.
    guide : callable or None
        A guide that belongs to the model (only models that bring their own, e.g. GPyTorch's).
    enumerate : bool
        The model has discrete latent sites marked ``infer={"enumerate": "parallel"}``; its
        ``Problem`` sums them out (``Problem.enumerated``) and ``Posterior.samples`` holds
        their draws.
    discrete : tuple of str
        The model's discrete latent sites that are not enumerated; it runs with ``gibbs``
        (``backend.problem(..., discrete=True)`` keeps them in the layout).
    local_latents : bool
        The model has latent sites inside a plate that ``svi`` subsamples (one per data point or
        group): it is fitted by ``svi`` with ``guide`` (an encoder) and ``batch_size``.
    test_args : tuple
        Held-out data, as the model takes it (``args`` is the training split).
    """

    name: str
    model: Callable
    family: str
    description: str
    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    backends: tuple[str, ...] = ("numpyro", "pyro")
    reference: Mapping[str, Mapping[str, np.ndarray]] | None = None
    log_z: float | None = None
    guide: Callable | None = None
    enumerate: bool = False
    discrete: tuple[str, ...] = ()
    local_latents: bool = False
    test_args: tuple = ()

    def __post_init__(self):
        if not getattr(self.model, "__ppl_converts_args__", False):
            object.__setattr__(self, "model", converting_args(self.model))

    def __repr__(self) -> str:
        extra = "" if self.log_z is None else f", log_z={self.log_z:.6g}"
        return (
            f"ModelSpec(name={self.name!r}, family={self.family!r}, "
            f"backends={self.backends!r}{extra})"
        )

    def compare(self, samples: Mapping[str, Any]) -> dict[str, dict[str, float]]:
        """Compare ``samples`` with ``reference``; see :func:`compare`."""
        if self.reference is None:
            raise ValueError(f"Model {self.name!r} has no reference posterior to compare with.")
        return compare(samples, self.reference)


def converting_args(model: Callable) -> Callable:
    """``model`` that converts its arguments (numpy arrays, lists, floats) to the active
    backend's arrays, as ``ppl.infer`` does, so ``spec.model(*spec.args)`` runs on either
    backend (Pyro's distributions take no numpy). Arrays of the backend pass unchanged."""
    from ..backends import get_backend

    @functools.wraps(model)
    def converted(*args, **kwargs):
        args, kwargs = get_backend().convert_args(args, kwargs)
        return model(*args, **kwargs)

    converted.__ppl_converts_args__ = True
    return converted


def element_names(site: str, shape: tuple[int, ...]) -> list[str]:
    """Stan-style names of the elements of a site, in C order (``beta[1]`` is element 0).

    >>> element_names("mu", (2,))
    ['mu[1]', 'mu[2]']
    >>> element_names("sigma", ())
    ['sigma']
    """
    if not shape:
        return [site]
    return [f"{site}[{','.join(str(i + 1) for i in idx)}]" for idx in np.ndindex(*tuple(shape))]


def compare(samples: Mapping[str, Any], reference: Mapping[str, Mapping[str, Any]]) -> dict:
    """Per scalar parameter, ``|mean - ref_mean| / ref_sd`` and ``sd / ref_sd - 1``.

    Parameters
    ----------
    samples : dict of site -> array of shape ``(chain, draw, *site_shape)``
    reference : dict of site -> {"mean": array, "sd": array} of shape ``site_shape``

    Returns
    -------
    dict
        ``{"beta[1]": {"mean_err": float, "sd_err": float}, ...}`` for every reference element.
    """
    out = {}
    for site, ref in reference.items():
        if site not in samples:
            raise KeyError(f"The samples have no site {site!r} (they have {sorted(samples)}).")
        ref_mean = np.asarray(ref["mean"], dtype=float)
        ref_sd = np.asarray(ref["sd"], dtype=float)
        draws = np.asarray(samples[site], dtype=float)
        if draws.shape[2:] != ref_mean.shape:
            raise ValueError(
                f"Site {site!r}: the samples have shape {draws.shape} but (chain, draw, "
                f"*{ref_mean.shape}) was expected."
            )
        flat = draws.reshape(-1, *ref_mean.shape)
        mean, sd = flat.mean(axis=0), flat.std(axis=0, ddof=1) if len(flat) > 1 else math.nan
        for name, m, s, rm, rs in zip(
            element_names(site, ref_mean.shape),
            np.ravel(mean),
            np.ravel(np.broadcast_to(sd, ref_mean.shape)),
            np.ravel(ref_mean),
            np.ravel(ref_sd),
        ):
            out[name] = {"mean_err": float(abs(m - rm) / rs), "sd_err": float(s / rs - 1.0)}
    return out
