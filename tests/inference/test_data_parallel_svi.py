"""``svi`` with ``devices=N``: each step's minibatch ELBO gradient split over 4 JAX host devices
or 2 torch processes joined by gloo, summed before the optimizer's update, gives the one-device
fit for a seed; what cannot be split is a ``ppl`` error that names the fix."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

import ppl
from tests.inference.test_data_parallel import ROOT, X, Y, _free_port, _run_child, model

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


JAX_CHILD = """
import numpy as np, jax, pytest
from ppl.errors import OptionError
from tests.inference.test_data_parallel_svi import fit, assert_same_fit, REFUSED
assert len(jax.devices()) == 4, jax.devices()
one, four = fit("numpyro"), fit("numpyro", devices=4)
assert np.ptp(one[2]) > 0  # the fit moved
assert_same_fit(four, one)
print("largest difference", max(float(np.abs(four[0][k] - one[0][k]).max()) for k in one[0]))
for options, match in REFUSED:
    with pytest.raises(OptionError, match=match):
        fit("numpyro", devices=4, **options)
print("ok")
"""


def test_jax_svi_split_over_four_host_devices_gives_the_one_device_fit():
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}  # fmt: skip
    out = _run_child(JAX_CHILD, env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok"), out.stdout
    print(out.stdout)


TORCH_CHILD = """
import numpy as np, os
from tests.inference.test_data_parallel_svi import fit
params, draws, losses = fit("pyro", devices=2)
np.savez(os.environ["OUT"], draws=draws, losses=losses, **params)
"""


def test_torch_svi_split_over_two_gloo_processes_gives_the_one_process_fit(tmp_path):
    port = str(_free_port())
    procs = []
    for rank in range(2):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "MASTER_ADDR": "127.0.0.1",
               "MASTER_PORT": port, "RANK": str(rank), "WORLD_SIZE": "2",
               "LOCAL_RANK": str(rank), "OUT": str(tmp_path / f"rank{rank}.npz")}  # fmt: skip
        procs.append(subprocess.Popen([sys.executable, "-c", TORCH_CHILD], cwd=ROOT, env=env,
                                      stderr=subprocess.PIPE, text=True))  # fmt: skip
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors[0][-3000:] + errors[1][-3000:]
    one = fit("pyro")
    assert np.ptp(one[2]) > 0
    for rank in range(2):  # every process takes the same steps
        saved = dict(np.load(tmp_path / f"rank{rank}.npz"))
        draws, losses = saved.pop("draws"), saved.pop("losses")
        assert_same_fit((saved, draws, losses), one)
