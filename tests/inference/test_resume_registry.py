"""Every registered posterior algorithm, on every backend it declares, survives SIGKILL: a run
checkpointed every few steps and killed mid-run, then resumed with ``resume_from`` in a fresh
process, reproduces the uninterrupted run bitwise (samples, per-step statistics and ``log_z``). The
default run takes one algorithm per shared base (``SIBLING_COVERED``); ``-m slow`` adds the rest.

One child process per backend imports everything once and then forks, before any computation,
two grandchildren per algorithm: one runs the checkpointed run and SIGKILLs itself from the
driver's ``after_chunk`` hook after step ``KILL_AT``; the other resumes from its checkpoint and
runs the uninterrupted run, and writes what it compared to a JSON file the test reads.
"""

from __future__ import annotations

import fcntl
import importlib
import json
import os
import pathlib
import pkgutil
import signal
import subprocess
import sys
import traceback

import numpy as np
import pytest

import ppl

EVERY, KILL_AT, SEED = 5, 10, 3
#: small option values: about 20 steps each (after the fits some do in ``init``)
TINY = {
    # killed inside warmup, while the step size still adapts
    "nuts": dict(num_warmup=15, num_samples=10),
    "hmc": dict(num_warmup=15, num_samples=10, num_steps=3),
    "gibbs": dict(num_warmup=15, num_samples=10, num_steps=3),
    "svi": dict(num_steps=20, num_samples=10, map_iterations=20, tol=0),
    **{
        name: dict(num_blocks=1, hidden=(4,), num_steps=20, batch_size=4, num_samples=10)
        for name in ("realnvp", "snf")
    },
    **{
        # one VI start: one mode, so 8 starts would give the same q0 (and state) at 8x the cost
        name: dict(K=2, num_steps=20, batch_size=4, num_samples=10, vi_steps=10, vi_starts=1)
        for name in ("cmcd", "mcd", "ula", "ais")
    },
    # a given step size skips the MAP search of step_size="auto" (sgld keeps it: its frame is
    # state too)
    "sgld": dict(num_warmup=10, num_samples=10),
    **{
        name: dict(num_warmup=10, num_samples=10, step_size=0.02)
        for name in ("cyclical_sgld", "psgld", "sghmc", "sgnht", "structured_sgmcmc")
    },
}
ROOT = pathlib.Path(__file__).resolve().parents[2]


#: algorithms whose state and step code a sibling's case already exercises (the same kernel
#: workspace, diffusion, flow or SG-MCMC base, one more rule or array in the state): their
#: cases are slow, which halves the default suite's ~160 CPU seconds here; ``-m slow`` runs them
SIBLING_COVERED = {
    "hmc": "nuts",
    **dict.fromkeys(("mcd", "ula", "ais"), "cmcd"),
    "snf": "realnvp",
    **dict.fromkeys(("cyclical_sgld", "psgld", "sghmc", "sgnht"), "sgld"),
}


def _cases():
    for spec in ppl.algorithms():
        if spec.family == "decision":
            continue
        marks = [pytest.mark.slow] if spec.name in SIBLING_COVERED else []
        for name in spec.backends:
            yield pytest.param(spec.name, name, id=f"{spec.name}-{name}", marks=marks)


def _run(name, backend_name, **extra):
    from tests.inference.test_contract import Y, normal_normal

    options = dict(args=(Y,), backend=backend_name, seed=SEED, progress=False)
    return ppl.infer(normal_normal, name, checkpoint_every=EVERY, **options, **TINY[name], **extra)


def _killed_run(name, backend_name, folder):
    """Grandchild: the checkpointed run, killed by SIGKILL after step ``KILL_AT``."""
    from ppl.inference import driver

    def kill(group, steps_done):
        if steps_done == KILL_AT:
            os.kill(os.getpid(), signal.SIGKILL)

    driver.after_chunk = kill
    _run(name, backend_name, checkpoint_path=str(folder / f"{name}.ckpt"))


def _compare(name, backend_name, folder):
    """Grandchild: resume the killed run, run it uninterrupted, and say what differs."""
    import pickle

    path = str(folder / f"{name}.ckpt")
    with open(path, "rb") as f:
        done = pickle.load(f)["done"]
    resumed = _run(name, backend_name, checkpoint_path=path, resume_from=path)
    whole = _run(name, backend_name, checkpoint_path=str(folder / f"{name}.whole"))
    differ = [k for k in whole.samples if not np.array_equal(whole.samples[k], resumed.samples[k])]
    differ += [
        f"sample_stats[{k!r}]"
        for k in whole.sample_stats
        if not np.array_equal(whole.sample_stats[k], resumed.sample_stats[k], equal_nan=True)
    ]
    if whole.log_z != resumed.log_z:
        differ.append(f"log_z ({whole.log_z} vs {resumed.log_z})")
    return {"done_at_kill": done, "differ": differ, "partial": resumed.partial}


def _in_grandchild(task, out: pathlib.Path, *args) -> int:
    """Fork; the grandchild runs ``task(*args)`` and writes its result (or traceback) to
    ``out``; return its wait status."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            result = task(*args)
            out.write_text(json.dumps({"result": result}))
        except BaseException:
            out.write_text(json.dumps({"error": traceback.format_exc()}))
            code = 1
        finally:
            os._exit(code)
    return os.waitpid(pid, 0)[1]


def child(backend_name: str, folder: str, names: list[str]) -> None:
    """The cases ``names`` on one backend: import everything once, then fork per algorithm."""
    folder = pathlib.Path(folder) / backend_name
    folder.mkdir(exist_ok=True)
    package = importlib.import_module(f"ppl.backends.{backend_name}")
    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    for spec in ppl.algorithms():
        if spec.name not in names:
            continue
        spec.load()
        status = _in_grandchild(_killed_run, folder / f"{spec.name}.killed.json",
                                spec.name, backend_name, folder)  # fmt: skip
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        report = {"killed": killed}
        if killed:
            _in_grandchild(_compare, folder / f"{spec.name}.json", spec.name, backend_name, folder)
        else:
            report["killed_run"] = (folder / f"{spec.name}.killed.json").read_text()
        (folder / f"{spec.name}.status.json").write_text(json.dumps(report))


#: children per backend, run at once (NumPyro's cases are the costly ones: each grandchild
#: traces and lowers its JAX functions afresh; they share a persistent compilation cache)
CHILDREN = {"numpyro": 2, "pyro": 1}


def _shared_folder(tmp_path_factory) -> pathlib.Path:
    """A folder all xdist workers of this session share (the session's own one without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _run_children(folder: pathlib.Path, selected: set) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "JAX_COMPILATION_CACHE_DIR": str(folder / "jax-cache"),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }
    children = []
    for backend_name, count in CHILDREN.items():
        names = [
            n for n, b in (c.values for c in _cases()) if b == backend_name and (n, b) in selected
        ]
        for part in range(count):
            code = (
                "from tests.inference.test_resume_registry import child; "
                f"child({backend_name!r}, {str(folder)!r}, {names[part::count]!r})"
            )
            children.append(subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env))
    for proc in children:
        assert proc.wait(timeout=600) == 0, "a child process of the resume test failed"


# Session-scoped and shared between xdist workers through a file lock: the first worker to get
# here runs all the children (about 80 s of CPU; 160 with -m slow); a worker that arrives
# later waits for them and reads their reports instead of running them all again.
@pytest.fixture(scope="session")
def reports(request, tmp_path_factory):
    """The folder of the children's reports; all children run at once, on first use, for the
    cases this session selected (``-m``, ``-k``)."""
    test = test_resume_after_sigkill_reproduces_the_uninterrupted_run.__name__
    selected = {
        (item.callspec.params["name"], item.callspec.params["backend_name"])
        for item in request.session.items
        if getattr(item, "originalname", None) == test
    }
    shared = _shared_folder(tmp_path_factory)
    folder, done = shared / "resume", shared / "resume" / "done"
    with open(shared / "resume.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            folder.mkdir(exist_ok=True)
            _run_children(folder, selected)
            done.touch()
    return folder


@pytest.mark.parametrize("name, backend_name", list(_cases()))
def test_resume_after_sigkill_reproduces_the_uninterrupted_run(name, backend_name, reports):
    folder = reports / backend_name
    status = json.loads((folder / f"{name}.status.json").read_text())
    assert status["killed"], f"the run was not killed at step {KILL_AT}: {status.get('killed_run')}"
    outcome = json.loads((folder / f"{name}.json").read_text())
    assert "error" not in outcome, outcome.get("error")
    result = outcome["result"]
    assert result["done_at_kill"][0] == KILL_AT, "the checkpoint on disk is not the last one"
    assert not result["partial"]
    assert not result["differ"], f"the resumed run differs in {result['differ']}"
