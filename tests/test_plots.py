import numpy as np
import pytest

from ppl.errors import OptionError
from ppl.inference.posterior import Posterior
from ppl.plots import compare


def _post(loc, method, backend, shape=()):
    draws = np.random.default_rng(0).normal(loc, 1.0, (2, 400, *shape))
    return Posterior(
        samples={"mu": draws[..., 0] if shape else draws, "w": draws},
        method=method,
        backend=backend,
    )


def test_compare_draws_one_panel_per_scalar_and_one_line_per_posterior(tmp_path):
    posts = [_post(0.0, "nuts", "numpyro", (2,)), _post(0.5, "svi", "pyro", (2,))]
    path = tmp_path / "c.png"
    fig = compare(posts, reference={"w": {"mean": [0.0, 0.0], "sd": [1.0, 1.0]}}, path=str(path))
    assert [ax.get_title() for ax in fig.axes] == ["mu", "w[0]", "w[1]"]
    labels = fig.axes[1].get_legend_handles_labels()[1]
    assert labels == ["nuts/numpyro", "svi/pyro", "reference"]
    assert path.stat().st_size > 10_000


def test_compare_rejects_an_unknown_site_and_no_posteriors():
    with pytest.raises(OptionError, match="No site 'nope'"):
        compare([_post(0.0, "nuts", "pyro")], sites=["nope"])
    with pytest.raises(OptionError, match="No posterior"):
        compare({})


def test_posterior_plot_returns_trace_axes():
    axes = _post(0.0, "nuts", "pyro", (3,)).plot(var_names=["w"])
    assert axes.shape == (1, 2)
