"""``devices=N``: every minibatch split over N devices (4 JAX host devices; 2 torch processes
joined by gloo) gives the one-device chain for a seed; what cannot be split, too few devices
and a process group that cannot start are ``ppl`` errors that name the fix."""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import sys

import numpy as np
import pytest

import ppl
from ppl.errors import BackendError, OptionError

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


def draws(backend, method="sgld", **options):
    options = {k: v for k, v in {**RUN, **options}.items() if v is not None}  # None: left out
    post = ppl.infer(model, method, args=(X, Y), backend=backend, **options)
    return post.samples["w"]


def _run_child(code, env, timeout=300):
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


JAX_CHILD = """
import numpy as np, jax, pytest
from ppl.errors import OptionError
from tests.inference.test_data_parallel import draws, ATOL
assert len(jax.devices()) == 4, jax.devices()
one = draws("numpyro", num_chains=2)
four = draws("numpyro", num_chains=2, devices=4)  # two chains, vectorized, each split over 4
assert np.ptp(one[:, -1]) > 0  # two different chains
np.testing.assert_allclose(four, one, atol=ATOL)
print("largest difference", float(np.abs(four - one).max()))
with pytest.raises(OptionError, match="must divide the minibatch of plate 'data'"):
    draws("numpyro", batch_size=42, devices=4)
print("ok")
"""


def test_jax_minibatch_split_over_four_host_devices_gives_the_one_device_chain():
    env = {**os.environ, "PYTHONPATH": str(ROOT),
           "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}  # fmt: skip
    out = _run_child(JAX_CHILD, env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok"), out.stdout
    print(out.stdout)


TORCH_CHILD = """
import numpy as np, os
from tests.inference.test_data_parallel import draws
two = draws("pyro", devices=2)
np.save(os.environ["OUT"], two)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_torch_minibatch_split_over_two_gloo_processes_gives_the_one_process_chain(tmp_path):
    # the two processes torchrun would start: the same program, told its RANK by the
    # environment, joined by gloo through ppl's own init_process_group
    port = str(_free_port())
    procs = []
    for rank in range(2):
        env = {**os.environ, "PYTHONPATH": str(ROOT), "MASTER_ADDR": "127.0.0.1",
               "MASTER_PORT": port, "RANK": str(rank), "WORLD_SIZE": "2",
               "LOCAL_RANK": str(rank), "OUT": str(tmp_path / f"rank{rank}.npy")}  # fmt: skip
        procs.append(subprocess.Popen([sys.executable, "-c", TORCH_CHILD], cwd=ROOT, env=env,
                                      stderr=subprocess.PIPE, text=True))  # fmt: skip
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors[0][-3000:] + errors[1][-3000:]
    one = draws("pyro")
    for rank in range(2):  # every process takes the same steps
        np.testing.assert_allclose(np.load(tmp_path / f"rank{rank}.npy"), one, atol=ATOL)


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
assert jax.process_count() == 2 and len(jax.devices()) == 4, jax.devices()
np.save(os.environ["OUT"], draws("numpyro", devices=4))
"""


@pytest.mark.slow
def test_jax_processes_joined_by_jax_distributed_give_the_one_device_chain(tmp_path):
    # two processes of two host devices each, joined through the coordinator variables
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
    one = draws("numpyro")
    for rank in range(2):
        np.testing.assert_allclose(np.load(tmp_path / f"process{rank}.npy"), one, atol=ATOL)


def test_jax_coordinator_variables_that_cannot_join_name_all_three():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_COORDINATOR_ADDRESS": "127.0.0.1:1"}
    env.pop("JAX_NUM_PROCESSES", None)
    out = _run_child("import ppl; ppl.get_backend('numpyro').arrays", env)
    assert out.returncode != 0
    assert "jax.distributed.initialize failed" in out.stderr
    assert "JAX_NUM_PROCESSES=<unset>" in out.stderr and "JAX_PROCESS_ID" in out.stderr
