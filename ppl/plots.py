"""Plots of posteriors, backend-neutral: they read ``Posterior.samples`` (numpy) only.

``compare`` draws the marginals of several posteriors side by side, one colour per posterior,
with the reference posterior (where known) as a dashed normal curve; ``trace`` is ArviZ's trace
plot of one posterior.

>>> import numpy as np
>>> from ppl.inference.posterior import Posterior
>>> rng = np.random.default_rng(0)
>>> a = Posterior(samples={"mu": rng.normal(0, 1, (1, 300))}, method="a", backend="numpyro")
>>> b = Posterior(samples={"mu": rng.normal(0.1, 1, (1, 300))}, method="b", backend="pyro")
>>> fig = compare({"a": a, "b": b}, reference={"mu": {"mean": 0.0, "sd": 1.0}})
>>> [ax.get_title() for ax in fig.axes]
['mu']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .errors import OptionError

__all__ = ["compare", "trace"]


def _pyplot():
    # matplotlib picks Agg by itself where there is no display (servers, CI, the tests)
    import matplotlib.pyplot as plt

    return plt


def _columns(samples: Mapping[str, np.ndarray], sites) -> list[tuple[str, int, str]]:
    """``(site, flat index, label)`` for every scalar parameter of ``sites``."""
    columns = []
    for site in sites:
        if site not in samples:
            raise OptionError(f"No site {site!r} to plot; the sites are {sorted(samples)}.")
        shape = np.shape(samples[site])[2:]
        size = int(np.prod(shape))
        for i in range(size):
            label = (
                site if size == 1 else f"{site}[{','.join(map(str, np.unravel_index(i, shape)))}]"
            )
            columns.append((site, i, label))
    return columns


def compare(
    posteriors,
    sites: Sequence[str] | None = None,
    reference: Mapping[str, Mapping[str, object]] | None = None,
    max_params: int = 6,
    bins: int = 40,
    path: str | None = None,
):
    """Marginal histograms of several posteriors side by side.

    Parameters
    ----------
    posteriors : dict of label -> Posterior, or a sequence of Posterior
        A sequence is labelled ``method/backend``.
    sites : list of str, optional
        Sites to draw (default: every site of the first posterior); each scalar element of a
        site gets its own panel, the first ``max_params`` of them are drawn.
    reference : dict of site -> {"mean", "sd"}, optional
        Known posterior moments (as ``ppl.models`` specs carry), drawn as a dashed normal curve.
    max_params : int
        At most this many panels.
    bins : int
        Histogram bins.
    path : str, optional
        Also write the figure to this file (PNG by the suffix).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np
    >>> from ppl.inference.posterior import Posterior
    >>> post = Posterior(samples={"w": np.zeros((2, 50, 3))}, method="nuts", backend="pyro")
    >>> fig = compare([post], max_params=2)
    >>> [ax.get_title() for ax in fig.axes]
    ['w[0]', 'w[1]']
    """
    if not isinstance(posteriors, Mapping):
        posteriors = {f"{p.method}/{p.backend}": p for p in posteriors}
    posteriors = {k: p for k, p in posteriors.items() if p is not None and p.samples}
    if not posteriors:
        raise OptionError("No posterior with draws to plot.")
    first = next(iter(posteriors.values()))
    columns = _columns(first.samples, list(sites or first.samples))[:max_params]
    if not columns:
        raise OptionError("The posteriors have no parameters to plot.")
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(columns), figsize=(3.2 * len(columns), 3), squeeze=False)
    for ax, (site, i, label) in zip(axes[0], columns):
        for name, post in posteriors.items():
            draws = post.samples.get(site)
            if draws is None:
                continue
            values = np.asarray(draws, dtype=float).reshape(draws.shape[0] * draws.shape[1], -1)
            ax.hist(values[:, i], bins=bins, density=True, histtype="step", label=name)
        if reference is not None and site in reference:
            mean = np.ravel(np.asarray(reference[site]["mean"], dtype=float))[i]
            sd = np.ravel(np.asarray(reference[site]["sd"], dtype=float))[i]
            grid = np.linspace(mean - 4 * sd, mean + 4 * sd, 200)
            density = np.exp(-0.5 * ((grid - mean) / sd) ** 2) / (sd * np.sqrt(2 * np.pi))
            ax.plot(grid, density, "k--", linewidth=1, label="reference")
        ax.set_title(label)
        ax.set_yticks([])
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=90)
    return fig


def trace(post, var_names=None, **kwargs):
    """Trace and marginal plots of one posterior (``arviz.plot_trace``); returns the axes.

    Examples
    --------
    >>> import numpy as np
    >>> from ppl.inference.posterior import Posterior
    >>> draws = np.random.default_rng(0).normal(size=(2, 20))
    >>> post = Posterior(samples={"mu": draws}, method="nuts", backend="pyro")
    >>> trace(post).shape
    (1, 2)
    """
    import arviz as az

    _pyplot()
    return az.plot_trace(post.to_arviz(), var_names=var_names, **kwargs)
