"""``Posterior``: what every algorithm returns, on either backend, with ArviZ export.

>>> import numpy as np
>>> from ppl.inference.posterior import Posterior
>>> post = Posterior(samples={"x": np.zeros((2, 100))}, method="demo", backend="numpyro")
>>> post.num_chains, post.num_draws
(2, 100)
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from ..errors import OptionError

__all__ = ["LogZ", "Posterior", "load", "resampling_index"]


class LogZ(NamedTuple):
    """An estimate of the log normalizing constant and its standard error."""

    estimate: float
    stderr: float


def resampling_index(log_weights: np.ndarray, uniform: float) -> np.ndarray:
    """Systematic resampling: the indices of ``n`` draws taken in proportion to
    ``exp(log_weights)`` (``n`` their number), from one uniform in ``[0, 1)``. Each draw is
    kept ``floor(n w_i)`` or ``ceil(n w_i)`` times, so the resampled mean is unbiased and adds
    less noise than multinomial resampling.

    >>> resampling_index(np.log([0.5, 0.25, 0.25, 1e-12]), 0.5).tolist()
    [0, 0, 1, 2]
    """
    w = np.asarray(log_weights, dtype=np.float64).reshape(-1)
    w = np.exp(w - w.max())
    cumulative = np.cumsum(w / w.sum())
    cumulative[-1] = 1.0
    points = (uniform + np.arange(len(w))) / len(w)
    return np.searchsorted(cumulative, points, side="right")


@dataclass
class Posterior:
    """Draws and everything known about how they were made.

    ``samples[site]`` is a numpy array of shape ``(num_chains, num_draws, *site_shape)``, draws
    of equal weight: where an algorithm makes importance-weighted draws (the diffusions, the
    flows, ``svi`` with a weighted objective), they are resampled by their weights
    (``resampling_index``), and ``raw_samples`` holds the draws as made, with their weights in
    ``diagnostics["log_weights"]`` and the weights' effective sample size in
    ``diagnostics["ess"]``;
    ``sample_stats`` holds the algorithm's per-step ``info`` fields (``(chain, draw)``);
    ``timings`` the seconds spent compiling and running; ``log_z`` a ``LogZ`` for algorithms that
    estimate the normalizing constant, else ``None``.
    """

    samples: dict[str, np.ndarray]
    method: str
    backend: str
    options: Any = None
    sample_stats: dict[str, np.ndarray] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    log_z: LogZ | None = None
    observed_data: dict[str, np.ndarray] = field(default_factory=dict)
    problem: Any = field(default=None, repr=False, compare=False)
    raw_samples: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    #: the fitted parameters by name (``svi``: every ``ppl.param`` of the guide and the model,
    #: a ``ppl.module``'s weights among them), as numpy, constrained
    params: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def num_chains(self) -> int:
        return next(iter(self.samples.values())).shape[0] if self.samples else 0

    @property
    def num_draws(self) -> int:
        return next(iter(self.samples.values())).shape[1] if self.samples else 0

    @property
    def partial(self) -> bool:
        """Whether the run was interrupted, so these are the draws made so far."""
        return bool(self.diagnostics.get("partial", False))

    def options_dict(self) -> dict[str, Any]:
        if dataclasses.is_dataclass(self.options):
            return dataclasses.asdict(self.options)
        return dict(self.options or {})

    # ---- ArviZ --------------------------------------------------------------------------
    def to_arviz(self, log_likelihood: bool = False):
        """An ``arviz.InferenceData`` with posterior, sample_stats and observed_data groups
        (and log_likelihood when asked and the model is at hand)."""
        import arviz as az

        stats = {k: v for k, v in self.sample_stats.items() if v.ndim >= 2}
        if (
            stats
            and self.samples
            and next(iter(stats.values())).shape[:2]
            != (
                self.num_chains,
                self.num_draws,
            )
        ):
            stats = {}  # per-step stats of an optimiser stay in diagnostics, not beside draws
        groups = {"posterior": self.samples, "sample_stats": stats or None}
        if self.observed_data:
            groups["observed_data"] = self.observed_data
        if log_likelihood:
            groups["log_likelihood"] = self.log_likelihood()
        idata = az.from_dict(**{k: v for k, v in groups.items() if v})
        idata.posterior.attrs.update(self._attrs())
        return idata

    def _attrs(self) -> dict[str, str]:
        return {
            "ppl_method": self.method,
            "ppl_backend": self.backend,
            "ppl_options": json.dumps(self.options_dict(), default=repr),
            "ppl_timings": json.dumps(self.timings),
            "ppl_log_z": json.dumps(None if self.log_z is None else list(self.log_z)),
            "ppl_diagnostics": json.dumps(
                {k: v for k, v in self.diagnostics.items() if np.ndim(v) == 0}, default=float
            ),
        }

    def summary(self, **kwargs):
        """A pandas DataFrame: mean, sd, hdi, ess and r_hat per parameter (``arviz.summary``),
        with notes printed under it (``attrs["notes"]``): ``r_hat`` is left out for one chain,
        and divergent transitions are counted (``ppl.inference.summary``)."""
        from .summary import summarize

        return summarize(self, **kwargs)

    def plot(self, var_names=None, **kwargs):
        """Trace and marginal plots of the draws (``arviz.plot_trace``); returns the axes."""
        import arviz as az

        return az.plot_trace(self.to_arviz(), var_names=var_names, **kwargs)

    # ---- predictions --------------------------------------------------------------------
    def _require_problem(self, what: str):
        if self.problem is None:
            raise OptionError(
                f"{what} needs the model, which a Posterior read from disk does not keep; "
                "run ppl.infer again to get one."
            )
        return self.problem

    def predictive(self, args=(), kwargs=None, num_samples: int | None = None, seed: int = 0):
        """Posterior predictive draws for new ``args``/``kwargs``, through the backend's
        ``Predictive``: ``{site: array (num_draws_total, *shape)}`` of every observed and
        deterministic site (recomputed from the latent draws and the new arguments; ``factor``
        sites left out), the same on both backends. The latent draws are ``samples``."""
        problem = self._require_problem("predictive")
        backend = problem.backend
        latent = set(problem.layout.names)
        flat = {k: v.reshape((-1,) + v.shape[2:]) for k, v in self.samples.items() if k in latent}
        if num_samples is not None:
            flat = {k: v[:num_samples] for k, v in flat.items()}
        args, kwargs = backend.convert_args(args, kwargs)
        return backend.predictive(problem.model, flat, args, kwargs, seed)

    def held_out_log_likelihood(self, args=(), kwargs=None, num_particles: int = 1000, seed=0):
        """The marginal log-likelihood per data point of held-out data ``args``/``kwargs``
        under an amortized model fitted by ``svi`` with a guide function, by importance
        sampling with the trained encoder (``ppl.inference.amortized``): a ``HeldOutLL``."""
        from .amortized import held_out_log_likelihood

        problem = self._require_problem("held_out_log_likelihood")
        if not self.params or not callable(getattr(self.options, "guide", None)):
            raise OptionError(
                "held_out_log_likelihood needs a fit by 'svi' with a guide function (an "
                f"amortized encoder); this posterior is from {self.method!r}."
            )
        return held_out_log_likelihood(
            problem.model,
            self.options.guide,
            self.params,
            args,
            kwargs,
            num_particles=num_particles,
            backend=self.backend,
            seed=seed,
        )

    def log_likelihood(self) -> dict[str, np.ndarray]:
        """Pointwise log-likelihood of each observed site, ``(chain, draw, *obs_shape)``."""
        problem = self._require_problem("log_likelihood")
        flat = {k: v.reshape((-1,) + v.shape[2:]) for k, v in self.samples.items()}
        out = problem.backend.log_likelihood(problem.model, flat, problem.args, problem.kwargs)
        shape = (self.num_chains, self.num_draws)
        return {k: v.reshape(shape + v.shape[1:]) for k, v in out.items()}

    # ---- persistence --------------------------------------------------------------------
    def save(self, path: str) -> str:
        """Write to netCDF (through ArviZ); ``ppl.load(path)`` reads it back."""
        self.to_arviz().to_netcdf(path)
        return path

    def __repr__(self) -> str:
        shapes = {k: tuple(v.shape) for k, v in self.samples.items()}
        extra = f", log_z={self.log_z.estimate:.4g}±{self.log_z.stderr:.2g}" if self.log_z else ""
        return (
            f"Posterior(method={self.method!r}, backend={self.backend!r}, samples={shapes}{extra})"
        )


def load(path: str) -> Posterior:
    """Read a ``Posterior`` written by ``Posterior.save``."""
    import arviz as az

    idata = az.from_netcdf(path)
    attrs = idata.posterior.attrs
    samples = {k: np.asarray(v.values) for k, v in idata.posterior.data_vars.items()}
    stats = (
        {k: np.asarray(v.values) for k, v in idata.sample_stats.data_vars.items()}
        if "sample_stats" in idata.groups()
        else {}
    )
    observed = (
        {k: np.asarray(v.values) for k, v in idata.observed_data.data_vars.items()}
        if "observed_data" in idata.groups()
        else {}
    )
    log_z = json.loads(attrs.get("ppl_log_z", "null"))
    return Posterior(
        samples=samples,
        method=attrs.get("ppl_method", "unknown"),
        backend=attrs.get("ppl_backend", "unknown"),
        options=json.loads(attrs.get("ppl_options", "{}")),
        sample_stats=stats,
        diagnostics=json.loads(attrs.get("ppl_diagnostics", "{}")),
        timings=json.loads(attrs.get("ppl_timings", "{}")),
        log_z=None if log_z is None else LogZ(*log_z),
        observed_data=observed,
    )
