"""The data-parallel tests' child processes, shared: one JAX process with 4 host devices runs
every JAX check of ``JAX_CHECKS`` in the data-parallel test modules (the slow tier's
``JAX_SLOW_CHECKS`` in one more), and one pair of processes
joined by gloo runs every torch run of their ``TORCH_RUNS``; each starts once per session, at
the first test that asks for it."""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODULES = ("tests.inference.test_data_parallel", "tests.inference.test_data_parallel_svi")

JAX_CHILD = f"""
import importlib, json, os, traceback, jax
assert len(jax.devices()) == 4, jax.devices()
results = {{}}
for module in {MODULES!r}:
    for check in getattr(importlib.import_module(module), os.environ["CHECKS"], []):
        try:
            check()
            results[check.__name__] = "ok"
        except BaseException:  # every check reports, the others still run
            results[check.__name__] = traceback.format_exc()[-3000:]
print("RESULTS " + json.dumps(results))
"""

TORCH_CHILD = f"""
import importlib, os, numpy as np
for module in {MODULES!r}:
    for name, run in importlib.import_module(module).TORCH_RUNS.items():
        np.savez(os.path.join(os.environ["OUT"], name + os.environ["RANK"] + ".npz"), **run())
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_jax(checks="JAX_CHECKS") -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CHECKS": checks,
           "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}  # fmt: skip
    return subprocess.Popen([sys.executable, "-c", JAX_CHILD], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


def _start_gloo(folder) -> list[subprocess.Popen]:
    port = str(free_port())
    procs = []
    for rank in range(2):  # the two processes torchrun would start, told their RANK
        env = {**os.environ, "PYTHONPATH": str(ROOT), "MASTER_ADDR": "127.0.0.1",
               "MASTER_PORT": port, "RANK": str(rank), "WORLD_SIZE": "2",
               "LOCAL_RANK": str(rank), "OUT": str(folder)}  # fmt: skip
        procs.append(subprocess.Popen([sys.executable, "-c", TORCH_CHILD], cwd=ROOT, env=env,
                                      stderr=subprocess.PIPE, text=True))  # fmt: skip
    return procs


@pytest.fixture(scope="session")
def _children(tmp_path_factory):
    """Both children, started together at the first test that needs either (they overlap)."""
    folder = tmp_path_factory.mktemp("gloo")
    jax_child, gloo = _start_jax(), _start_gloo(folder)
    yield jax_child, gloo, folder
    for proc in [jax_child, *gloo]:  # a session cut short leaves none running
        if proc.poll() is None:
            proc.kill()


def _results(child) -> dict[str, str]:
    stdout, stderr = child.communicate(timeout=600)
    lines = [line for line in stdout.splitlines() if line.startswith("RESULTS ")]
    assert child.returncode == 0 and lines, stderr[-3000:]
    return json.loads(lines[-1][len("RESULTS ") :])


@pytest.fixture(scope="session")
def jax_checks(_children) -> dict[str, str]:
    """``{check: "ok" or its traceback}`` from the one JAX child with 4 host devices."""
    return _results(_children[0])


@pytest.fixture(scope="session")
def jax_slow_checks() -> dict[str, str]:
    """The same for the long checks (``JAX_SLOW_CHECKS``, the slow tier), in a child of
    their own."""
    return _results(_start_jax("JAX_SLOW_CHECKS"))


@pytest.fixture(scope="session")
def torch_runs(_children) -> pathlib.Path:
    """The folder of ``{run}{rank}.npz``: every torch run on both processes of the gloo pair."""
    _, procs, folder = _children
    errors = [p.communicate(timeout=600)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors[0][-3000:] + errors[1][-3000:]
    return folder
