"""``svi`` with ``devices=N``: each step's minibatch ELBO gradient split over 4 JAX host devices
or 2 torch processes joined by gloo (every device holds all the data: svi's data are not
sharded), summed before the optimizer's update, gives the one-device fit for a seed; what
cannot be split is a ``ppl`` error that names the fix. The checks run in the shared child
processes of ``conftest.py``."""

from __future__ import annotations

import numpy as np
import pytest

import ppl
from ppl.errors import OptionError
from tests.inference.test_data_parallel import X, Y, model

#: a short fit from the prior's median (no MAP search): these tests compare layouts, not fits
RUN = dict(
    num_steps=40, num_samples=20, batch_size=40, lr=0.05, tol=0, init="median", progress=False,
    seed=3,
)  # fmt: skip
#: the parts' sum differs from the one-device minibatch loss by float32 rounding (the
#: log-likelihood is summed in another order, and the prior and entropy are divided by the
#: number of parts and summed over them): ~1e-7 relative per step, which 40 Adam steps of
#: lr 0.05 do not amplify past ~1e-6 in the guide's parameters (the Adam update is near
#: lr * sign(gradient) and so insensitive to a gradient's last bits)
ATOL = 1e-5


#: what ``devices=4`` cannot split, and the fix its error names
REFUSED = [
    (dict(batch_size=None), "no subsampled plate. Set batch_size"),
    (dict(batch_size=42), "use batch_size=40"),
    (dict(objective="iwae"), "not a sum over data points"),
]


def fit(backend, **options):
    """The fitted guide's parameters and the guide's draws of ``w``."""
    options = {k: v for k, v in {**RUN, **options}.items() if v is not None}  # None: left out
    post = ppl.infer(model, "svi", args=(X, Y), backend=backend, **options)
    params = {name: np.asarray(value) for name, value in post.params.items()}
    return params, np.asarray(post.samples["w"]), np.asarray(post.sample_stats["loss"])


def assert_same_fit(got, want):
    (params, draws, losses), (params1, draws1, losses1) = got, want
    assert sorted(params) == sorted(params1)
    for name in params1:
        np.testing.assert_allclose(params[name], params1[name], atol=ATOL, err_msg=name)
    np.testing.assert_allclose(draws, draws1, atol=ATOL)
    # the loss is the minibatch's negative ELBO, ~N = 400 times a per-point value
    np.testing.assert_allclose(losses, losses1, rtol=1e-5)


def check_svi_split_over_four_host_devices_gives_the_one_device_fit():
    one, four = fit("numpyro"), fit("numpyro", devices=4)
    assert np.ptp(one[2]) > 0  # the fit moved
    assert_same_fit(four, one)
    for options, match in REFUSED:
        with pytest.raises(OptionError, match=match):
            fit("numpyro", devices=4, **options)


#: run in the shared JAX child with 4 host devices (``conftest.jax_checks``)
JAX_CHECKS = [check_svi_split_over_four_host_devices_gives_the_one_device_fit]


def _torch_fit():
    params, draws, losses = fit("pyro", devices=2)
    return dict(draws=draws, losses=losses, **params)


#: run on both processes of the shared gloo pair (``conftest.torch_runs``)
TORCH_RUNS = {"svi": _torch_fit}


@pytest.mark.parametrize("check", [check.__name__ for check in JAX_CHECKS])
def test_on_four_jax_host_devices(jax_checks, check):
    assert jax_checks[check] == "ok", jax_checks[check]


def test_torch_svi_split_over_two_gloo_processes_gives_the_one_process_fit(torch_runs):
    one = fit("pyro")
    assert np.ptp(one[2]) > 0
    for rank in range(2):  # every process takes the same steps
        saved = dict(np.load(torch_runs / f"svi{rank}.npz"))
        draws, losses = saved.pop("draws"), saved.pop("losses")
        assert_same_fit((saved, draws, losses), one)
