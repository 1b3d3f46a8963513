"""``devices=N`` for the stochastic-gradient samplers. On 4 JAX host devices the data are
sharded: each device holds a block of 100 of the 400 rows and draws its 10 of the minibatch
of 40 from it, which is the one-device stratified minibatch to float32 rounding, an unbiased
estimate of the full-data potential, and a chain that samples the one-device chain's
posterior; a model that reads its rows otherwise keeps them on every device and gives the
one-device chain. Torch's 2 gloo processes hold every row and split each minibatch, giving the
one-process chain. Too few devices, a process group that cannot start and what cannot be split
are ``ppl`` errors that name the fix. The JAX checks run in one shared child process, the torch
runs in one shared gloo pair (``conftest.py``)."""

from __future__ import annotations

import functools
import os
import pathlib
import subprocess
import sys
import warnings

import numpy as np
import pytest

import ppl
from ppl.errors import BackendError, OptionError
from tests.inference.conftest import free_port as _free_port

#: 50 steps are too few for sgld's checks (R-hat, ESS): these tests compare layouts, not fits
pytestmark = pytest.mark.filterwarnings("ignore::ppl.errors.UntrustedResultWarning")
ROOT = pathlib.Path(__file__).resolve().parents[2]
_rng = np.random.default_rng(0)
X = _rng.normal(size=(400, 3))
Y = (X @ np.array([1.0, -1.0, 0.5]) + _rng.normal(size=400) > 0).astype(np.float64)
#: a fixed step size (``"auto"`` runs a MAP search first, which these tests do not need)
RUN = dict(num_warmup=20, num_samples=30, step_size=1e-3, batch_size=40, progress=False, seed=1)
#: the parts' sum differs from the one-device minibatch potential by float32 rounding (the
#: terms are summed in another order, and the prior is divided by N and summed N times):
#: ~1e-7 relative per step, and 50 steps of a contracting chain keep it there
ATOL = 1e-5


def model(X, y):
    w = ppl.sample("w", ppl.dist.Normal(0.0, 1.0).expand([3]).to_event(1))
    with ppl.plate("data", X.shape[0]) as idx:
        ppl.sample("y", ppl.dist.Bernoulli(logits=ppl.ops.matmul(X[idx], w)), obs=y[idx])


def centred_model(X, y):
    """Reads every row through ``X.mean``: not shardable by rows."""
    w = ppl.sample("w", ppl.dist.Normal(0.0, 1.0).expand([3]).to_event(1))
    centre = X.mean(0)
    with ppl.plate("data", X.shape[0]) as idx:
        ppl.sample("y", ppl.dist.Bernoulli(logits=ppl.ops.matmul(X[idx] - centre, w)), obs=y[idx])


def plated_prior_model(X, y):
    """``model`` with its prior in a plate of its own (over the features, not the rows)."""
    with ppl.plate("features", X.shape[1]):
        w = ppl.sample("w", ppl.dist.Normal(0.0, 1.0))
    with ppl.plate("data", X.shape[0]) as idx:
        ppl.sample("y", ppl.dist.Bernoulli(logits=ppl.ops.matmul(X[idx], w)), obs=y[idx])


def draws(backend, method="sgld", fn=model, data=(X, Y), **options):
    options = {k: v for k, v in {**RUN, **options}.items() if v is not None}  # None: left out
    post = ppl.infer(fn, method, args=data, backend=backend, **options)
    return post.samples["w"]


def _run_child(code, env, timeout=300):
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


@functools.cache
def _sharded_problem(devices=4):
    """The sgld problem of ``model`` with its data sharded over ``devices`` (as ``ppl.infer``
    builds it), and its gradient split over them (built once, for the checks that share it)."""
    import dataclasses

    from ppl.core.plates import minibatch_sizes
    from ppl.inference import data_parallel
    from ppl.inference.infer import _build_problem

    backend = ppl.get_backend("numpyro")
    parallel = backend.data_parallel(devices, backend.resolve_device(None))
    args, kwargs = backend.convert_args((X, Y), {})
    problem = _build_problem(backend, minibatch_sizes(RUN["batch_size"]), model, args, kwargs,
                             {}, False, True)  # fmt: skip
    problem = data_parallel.shard(dataclasses.replace(problem, parallel=parallel))
    placed = data_parallel.place(problem)
    return problem, placed, data_parallel.split_gradient(placed)


def check_sharded_gradient_is_the_stratified_one_device_gradient():
    import jax

    problem, placed, split = _sharded_problem()
    assert problem.parallel.rows == [True, True]
    for array in placed.args:  # each device holds its own block of the 400 rows, and no more
        assert sorted(s.index[0].start for s in array.addressable_shards) == [0, 100, 200, 300]
        assert all(s.data.shape[0] == 100 for s in array.addressable_shards)
    stratified = jax.jit(
        lambda z, key: jax.value_and_grad(lambda x: problem.stratified_potential(x, key, 4))(z)
    )
    for seed in range(3):
        key, z = jax.random.PRNGKey(seed), jax.random.normal(jax.random.PRNGKey(9 + seed), (3,))
        got = split(*problem.backend.to_device((z, key), problem.parallel.placement))
        # float32 rounding of a ~300-sized sum of 40 terms and the prior taken in 4 parts
        for g, w in zip(got, stratified(z, key)):
            np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-5, atol=1e-4)


def check_the_stratified_minibatch_is_unbiased():
    import jax

    problem, _, _ = _sharded_problem()
    z, keys = jax.numpy.array([0.8, -0.7, 0.3]), jax.random.split(jax.random.PRNGKey(5), 2000)
    draws_ = np.asarray(jax.jit(jax.vmap(lambda k: problem.stratified_potential(z, k, 4)))(keys))
    full = float(jax.jit(problem.potential)(z))
    # the mean of 2000 independent minibatch estimates is within 5 standard errors of the
    # full-data potential (a false alarm about once in 10^6 runs); a bias of one row's
    # average term times N (~0.3 * 400 / 40 per row left out) would be ~40 errors off
    error = draws_.std() / np.sqrt(len(draws_))
    assert abs(draws_.mean() - full) < 5 * error, (draws_.mean(), full, error)


def _means(samples, batches=10):
    """The posterior mean of ``w`` over chains and draws, and its Monte Carlo standard error
    by batch means (``batches`` consecutive batches per chain, nearly independent when each
    is several autocorrelation times long)."""
    samples = np.asarray(samples)
    chains, n, _ = samples.shape
    per = samples[:, : n - n % batches].reshape(chains, batches, -1, samples.shape[-1]).mean(2)
    per = per.reshape(chains * batches, -1)
    return per.mean(0), per.std(0, ddof=1) / np.sqrt(len(per))


def check_sharded_sgld_samples_the_one_device_posterior():
    # a step size at which 4 chains of 1500 draws mix well enough to make the check sharp
    long = dict(num_chains=4, num_warmup=200, num_samples=1500, step_size=5e-3, seed=4)
    one_draws = draws("numpyro", **long)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # the model is sharded without a warning
        warnings.filterwarnings("ignore", category=ppl.errors.UntrustedResultWarning)
        four_draws = draws("numpyro", devices=4, **long)
    (one, one_error), (four, four_error) = _means(one_draws), _means(four_draws)
    # the chains see other rows (stratified), so they agree in distribution only: their means
    # within 5 combined Monte Carlo errors (a false alarm about once in 10^6 per coordinate).
    # Both sample sgld's stationary law at this step size, whose bias from the gradient noise
    # is of order step_size * its variance; stratifying over 4 blocks of i.i.d. rows removes
    # only the between-block part of that variance, ~1/100 of it, far below the bound.
    bound = 5 * np.sqrt(one_error**2 + four_error**2)
    assert np.all(np.abs(four - one) < bound), (four, one, bound)
    sd = np.asarray(one_draws).std((0, 1))
    assert np.all(bound < 0.5 * sd), (bound, sd)  # sharp: a shift of half a posterior sd fails


def check_a_model_reading_other_rows_keeps_the_data_on_every_device():
    short = dict(num_warmup=5, num_samples=10)
    with pytest.warns(UserWarning, match="the data are not sharded"):
        four = draws("numpyro", fn=centred_model, devices=4, **short)
    one = draws("numpyro", fn=centred_model, **short)
    assert np.ptp(one[0, :, 0]) > 0  # the chain moved
    np.testing.assert_allclose(four, one, atol=ATOL)  # the one-device chain: every row here


def check_a_prior_plate_beside_the_data_plate_is_still_sharded():
    # every NumPyro plate sends a subsample message: only the subsampled one is the rows'
    short = dict(num_warmup=5, num_samples=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)  # no "the data are not sharded" fallback
        warnings.filterwarnings("ignore", category=ppl.errors.UntrustedResultWarning)
        four = draws("numpyro", fn=plated_prior_model, devices=4, **short)
    assert np.all(np.isfinite(four)) and np.ptp(four[0, :, 0]) > 0


def check_what_the_four_devices_cannot_split_is_refused():
    with pytest.raises(OptionError, match="must divide the minibatch of plate 'data'"):
        draws("numpyro", batch_size=42, devices=4)
    with pytest.raises(OptionError, match="4 does not divide 402. Trim the data to 400 rows"):
        draws("numpyro", data=(np.vstack([X, X[:2]]), np.r_[Y, Y[:2]]), devices=4)


#: run in the shared JAX child with 4 host devices (``conftest.jax_checks``)
JAX_CHECKS = [
    check_sharded_gradient_is_the_stratified_one_device_gradient,
    check_the_stratified_minibatch_is_unbiased,
    check_a_model_reading_other_rows_keeps_the_data_on_every_device,
    check_a_prior_plate_beside_the_data_plate_is_still_sharded,
    check_what_the_four_devices_cannot_split_is_refused,
]
#: the slow tier's, in a JAX child of their own (``conftest.jax_slow_checks``)
JAX_SLOW_CHECKS = [check_sharded_sgld_samples_the_one_device_posterior]
#: run on both processes of the shared gloo pair (``conftest.torch_runs``)
TORCH_RUNS = {"sgld": lambda: {"w": draws("pyro", devices=2)}}


@pytest.mark.parametrize("check", [check.__name__ for check in JAX_CHECKS])
def test_on_four_jax_host_devices(jax_checks, check):
    assert jax_checks[check] == "ok", jax_checks[check]


@pytest.mark.slow
@pytest.mark.parametrize("check", [check.__name__ for check in JAX_SLOW_CHECKS])
def test_on_four_jax_host_devices_slow(jax_slow_checks, check):
    assert jax_slow_checks[check] == "ok", jax_slow_checks[check]


def test_torch_minibatch_split_over_two_gloo_processes_gives_the_one_process_chain(torch_runs):
    one = draws("pyro")
    for rank in range(2):  # every process takes the same steps
        np.testing.assert_allclose(np.load(torch_runs / f"sgld{rank}.npz")["w"], one, atol=ATOL)


def test_more_devices_than_visible_names_them_and_the_fix():
    with pytest.raises(BackendError, match="JAX sees 1 cpu device") as caught:
        draws("numpyro", devices=8)
    assert "xla_force_host_platform_device_count=8" in str(caught.value)
    assert "CUDA_VISIBLE_DEVICES" in str(caught.value)


def test_the_command_line_passes_devices_and_reports_too_many(capsys):
    from ppl.cli import main

    argv = ["run", "logistic_regression", "--method", "sgld", "--backend", "numpyro"]
    assert main([*argv, "--devices", "8", "--option", "batch_size=40"]) == 2
    err = capsys.readouterr().err
    assert "devices=8: JAX sees 1 cpu device" in err and "Traceback" not in err


def test_torch_without_a_process_group_names_the_launch_line(monkeypatch):
    for name in ("MASTER_ADDR", "MASTER_PORT", "RANK", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(BackendError, match="torchrun --nproc_per_node 2") as caught:
        draws("pyro", devices=2)
    assert "MASTER_ADDR" in str(caught.value)


def test_more_processes_asked_than_the_group_has_names_world_size():
    # a group of one process (the test's child, so this process stays without one)
    code = (
        "from tests.inference.test_data_parallel import draws\n"
        "from ppl.errors import BackendError\n"
        "try:\n    draws('pyro', devices=2)\nexcept BackendError as err:\n    print(err)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(_free_port()), "RANK": "0", "WORLD_SIZE": "1"}  # fmt: skip
    out = _run_child(code, env)
    assert "devices=2, but the torch.distributed process group has 1 process" in out.stdout, (
        out.stdout + out.stderr[-2000:]
    )
    assert "WORLD_SIZE=1" in out.stdout and "torchrun --nproc_per_node 2" in out.stdout


def test_a_process_group_that_fails_to_start_names_the_variables(monkeypatch):
    env = dict(MASTER_ADDR="127.0.0.1", MASTER_PORT="not-a-port", RANK="0", WORLD_SIZE="2")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(BackendError, match="process group \\(gloo\\) failed to start") as caught:
        draws("pyro", devices=2)
    for name, value in env.items():
        assert f"{name}={value}" in str(caught.value)


@pytest.mark.parametrize(
    "options, match",
    [
        (dict(method="nuts", batch_size=None, devices=2), "'nuts' does not take its gradients"),
        (dict(devices=2, chain_method="parallel", num_chains=2), "Use one of the two"),
        (dict(devices=0), "devices must be a positive int"),
    ],
)
def test_what_devices_cannot_split_is_refused(options, match):
    with pytest.raises(OptionError, match=match):
        draws("numpyro", **options)


MULTI_PROCESS_CHILD = """
import jax, numpy as np, os, ppl
ppl.get_backend("numpyro")  # joins the processes: before JAX's first computation
from tests.inference.test_data_parallel import draws
assert jax.process_count() == int(os.environ.get("JAX_NUM_PROCESSES", 1)), jax.process_count()
assert len(jax.devices()) == 4, jax.devices()
np.save(os.environ["OUT"], draws("numpyro", devices=4))
"""


@pytest.mark.slow
def test_jax_processes_joined_by_jax_distributed_give_the_one_process_chain(tmp_path):
    # two processes of two host devices each, joined through the coordinator variables, hold
    # the same blocks of rows as one process with four host devices: the same sharded chain
    port = str(_free_port())
    procs = []
    for rank in range(2):
        env = {**os.environ, "PYTHONPATH": str(ROOT),
               "JAX_COORDINATOR_ADDRESS": f"127.0.0.1:{port}", "JAX_NUM_PROCESSES": "2",
               "JAX_PROCESS_ID": str(rank),
               "XLA_FLAGS": "--xla_force_host_platform_device_count=2",
               "OUT": str(tmp_path / f"process{rank}.npy")}  # fmt: skip
        procs.append(subprocess.Popen([sys.executable, "-c", MULTI_PROCESS_CHILD], cwd=ROOT,
                                      env=env, stderr=subprocess.PIPE, text=True))  # fmt: skip
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors[0][-3000:] + errors[1][-3000:]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OUT": str(tmp_path / "one.npy"),
           "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}  # fmt: skip
    out = _run_child(MULTI_PROCESS_CHILD, env)
    assert out.returncode == 0, out.stderr[-3000:]
    one = np.load(tmp_path / "one.npy")
    for rank in range(2):
        np.testing.assert_allclose(np.load(tmp_path / f"process{rank}.npy"), one, atol=ATOL)


def test_jax_coordinator_variables_that_cannot_join_name_all_three():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_COORDINATOR_ADDRESS": "127.0.0.1:1"}
    env.pop("JAX_NUM_PROCESSES", None)
    out = _run_child("import ppl; ppl.get_backend('numpyro').arrays", env)
    assert out.returncode != 0
    assert "jax.distributed.initialize failed" in out.stderr
    assert "JAX_NUM_PROCESSES=<unset>" in out.stderr and "JAX_PROCESS_ID" in out.stderr
