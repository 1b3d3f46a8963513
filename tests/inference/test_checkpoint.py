import numpy as np
import pytest

import ppl
from ppl import dist
from ppl.errors import OptionError
from ppl.inference import driver
from tests.inference.test_contract import Y, normal_normal

SETTINGS = dict(num_warmup=20, num_samples=30, num_chains=2, progress=False)


class Interrupt:
    """Raise KeyboardInterrupt once a chain group has done ``at`` steps (a simulated Ctrl-C)."""

    def __init__(self, at):
        self.at = at

    def __call__(self, group, steps_done):
        if steps_done == self.at:
            raise KeyboardInterrupt


@pytest.mark.parametrize("backend_name", ["numpyro", "pyro"])
def test_interrupt_then_resume_gives_the_same_numbers(backend_name, tmp_path, monkeypatch):
    path = str(tmp_path / "run.ckpt")
    common = dict(args=(Y,), backend=backend_name, seed=5, **SETTINGS)
    whole = ppl.infer(
        normal_normal, "nuts", checkpoint_every=10, checkpoint_path=str(tmp_path / "w"), **common
    )
    monkeypatch.setattr(driver, "after_chunk", Interrupt(at=30))
    partial = ppl.infer(normal_normal, "nuts", checkpoint_every=10, checkpoint_path=path, **common)
    # numpyro runs both chains at once; pyro one after the other (only chain 0 has draws)
    assert partial.partial and partial.samples["mu"].shape[1:] == (10,)
    monkeypatch.undo()
    resumed = ppl.infer(
        normal_normal,
        "nuts",
        checkpoint_every=10,
        checkpoint_path=path,
        resume_from=path,
        **common,
    )
    assert not resumed.partial
    np.testing.assert_array_equal(resumed.samples["mu"], whole.samples["mu"])


def test_interrupt_returns_the_draws_so_far(backend, monkeypatch):
    # progress=True runs 20 chunks of 20 steps; the interrupt lands after step 40 of chain 0,
    # so 20 post-warmup draws of that chain are kept and marked partial.
    monkeypatch.setattr(driver, "after_chunk", Interrupt(at=40))
    post = ppl.infer(
        normal_normal,
        "nuts",
        args=(Y,),
        backend=backend.name,
        num_warmup=20,
        num_samples=380,
        progress=True,
    )
    assert post.partial
    assert post.samples["mu"].shape == (1, 20)


@pytest.mark.parametrize("algo", ["nuts", "hmc"])
def test_pyro_kernel_resumed_mid_warmup_continues_its_adaptation(algo, tmp_path, monkeypatch):
    # Pyro's kernels adapt in the kernel object; the state carries that adaptation (dual
    # averaging, the Welford estimate of a dense mass matrix, window counters) as tensors, so a
    # run stopped inside a mass-matrix window and resumed equals the uninterrupted one
    common = dict(args=(Y,), backend="pyro", seed=2, num_warmup=60, num_samples=10)
    common.update(progress=False, dense_mass=True, checkpoint_every=7)
    whole = ppl.infer(normal_normal, algo, checkpoint_path=str(tmp_path / "w"), **common)
    path = str(tmp_path / "p")
    monkeypatch.setattr(driver, "after_chunk", Interrupt(at=35))
    assert ppl.infer(normal_normal, algo, checkpoint_path=path, **common).partial
    monkeypatch.undo()
    resumed = ppl.infer(normal_normal, algo, checkpoint_path=path, resume_from=path, **common)
    np.testing.assert_array_equal(resumed.samples["mu"], whole.samples["mu"])
    for name in ("step_size", "accept_prob"):
        np.testing.assert_array_equal(resumed.sample_stats[name], whole.sample_stats[name])


def test_resume_with_other_options_is_an_error(tmp_path):
    path = str(tmp_path / "run.ckpt")
    ppl.infer(
        normal_normal, "nuts", args=(Y,), checkpoint_every=10, checkpoint_path=path, **SETTINGS
    )
    with pytest.raises(OptionError, match="other options \\(num_samples=30\\)"):
        ppl.infer(
            normal_normal, "nuts", args=(Y,), resume_from=path, **{**SETTINGS, "num_samples": 31}
        )


def test_resume_with_another_method_or_format_version_is_an_error(tmp_path):
    import pickle

    path = str(tmp_path / "run.ckpt")
    ppl.infer(
        normal_normal, "nuts", args=(Y,), checkpoint_every=10, checkpoint_path=path, **SETTINGS
    )
    with pytest.raises(OptionError, match="written by 'nuts' .* not by 'hmc'"):
        ppl.infer(normal_normal, "hmc", args=(Y,), resume_from=path, **SETTINGS)
    with open(path, "rb") as f:
        payload = pickle.load(f)
    with open(path, "wb") as f:
        pickle.dump({**payload, "format": 0}, f)
    with pytest.raises(OptionError, match="format version 0"):
        ppl.infer(normal_normal, "nuts", args=(Y,), resume_from=path, **SETTINGS)


def test_checkpoint_options_come_together():
    with pytest.raises(OptionError, match="together"):
        ppl.infer(normal_normal, "nuts", args=(Y,), checkpoint_every=10)


KILLED_RUN = """
import sys
import ppl
from tests.inference.test_contract import Y, normal_normal
ppl.infer(normal_normal, "nuts", args=(Y,), backend="numpyro", seed=5, num_warmup=20,
          num_samples=100000, progress=False, checkpoint_every=5, checkpoint_path=sys.argv[1])
"""


def test_sigkill_mid_run_leaves_a_readable_resumable_checkpoint(tmp_path, monkeypatch):
    import os
    import pathlib
    import signal
    import subprocess
    import sys
    import time

    path = tmp_path / "run.ckpt"
    root = pathlib.Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(path)], cwd=root, env=env)
    import pickle

    def steps_done():
        try:
            with open(path, "rb") as f:
                return pickle.load(f)["done"][0]
        except FileNotFoundError:
            return 0

    deadline = time.time() + 180
    while steps_done() < 40 and time.time() < deadline:  # past warmup, mid-stream
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = steps_done()  # a torn file would fail to unpickle here
    assert done >= 40, "the run wrote no checkpoint past warmup before it was killed"
    # resume from it, and stop (a simulated Ctrl-C) one chunk later: the run continued from
    # where the killed one was, so it holds that many post-warmup draws plus one chunk
    monkeypatch.setattr(driver, "after_chunk", Interrupt(at=done + 5))
    resumed = ppl.infer(
        normal_normal,
        "nuts",
        args=(Y,),
        backend="numpyro",
        seed=5,
        num_warmup=20,
        num_samples=100000,
        progress=False,
        checkpoint_every=5,
        checkpoint_path=str(path),
        resume_from=str(path),
    )
    assert resumed.partial
    assert resumed.samples["mu"].shape == (1, done + 5 - 20)


def one_normal(y):
    mu = ppl.sample("mu", dist.Normal(0.0, 1.0))
    ppl.sample("y", dist.Normal(mu, 1.0), obs=y)


@pytest.mark.parametrize("backend_name", ["pyro", "numpyro"])
def test_svi_resumed_from_a_checkpoint_continues_the_fit(backend_name, tmp_path, monkeypatch):
    # the reported case: Pyro's SVI state held only the step count, so a resumed run restarted
    # the guide from scratch (full run mean 2.02, resumed -0.36)
    common = dict(
        args=(np.array(4.0),), backend=backend_name, seed=1, num_steps=300, num_samples=200, tol=0
    )
    common.update(progress=False, checkpoint_every=100)
    whole = ppl.infer(one_normal, "svi", checkpoint_path=str(tmp_path / "w"), **common)
    path = str(tmp_path / "p")
    monkeypatch.setattr(driver, "after_chunk", Interrupt(at=200))
    assert ppl.infer(one_normal, "svi", checkpoint_path=path, **common).partial
    monkeypatch.undo()
    resumed = ppl.infer(one_normal, "svi", checkpoint_path=path, resume_from=path, **common)
    np.testing.assert_array_equal(resumed.samples["mu"], whole.samples["mu"])
