"""Reference posteriors of the enumerated models (``gaussian_hmm``, ``gaussian_mixture_enum``)
from long runs of NumPyro's own NUTS (which enumerates the discrete sites itself), and, with
``--time``, NUTS on the HMM through ``ppl.infer`` against NumPyro's NUTS on the same model,
interleaved in the same process.

Command: ``PYTHONPATH=$PWD .venv/bin/python benchmarks/discrete_reference.py [--time
[--backend pyro [--pyro-jit]] [--repeats R] [--warmup W] [--draws D] [--T T]]``.
The moments it prints are the ``reference`` of the two specs (the mixture's components sorted
by location in every draw, its prior being exchangeable).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import ppl
from ppl.backends import bind


def native_nuts(model, y, num_warmup, num_samples, num_chains, seed=0):
    """NumPyro's NUTS on ``model`` (a ``ppl`` model bound to NumPyro), chains in sequence:
    ``(samples grouped by chain, seconds)``."""
    import jax
    from numpyro.infer import MCMC, NUTS

    with ppl.backend("numpyro") as backend:
        (y_np,), _ = backend.convert_args((y,))
        mcmc = MCMC(
            NUTS(bind(model, "numpyro")),
            num_warmup=num_warmup,
            num_samples=num_samples,
            num_chains=num_chains,
            chain_method="sequential",
            progress_bar=False,
        )
        start = time.perf_counter()
        mcmc.run(jax.random.PRNGKey(seed), y_np)
        samples = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()}
    return samples, time.perf_counter() - start


def moments(samples, sites):
    import arviz as az

    for site in sites:
        v = samples[site]
        flat = v.reshape(-1, *v.shape[2:])
        ess = az.ess(az.convert_to_dataset({site: v}))[site].values
        mean, sd = np.round(flat.mean(0), 4).tolist(), np.round(flat.std(0), 4).tolist()
        print(f"{site}: mean {mean} sd {sd} min ess {float(np.min(ess)):.0f}", flush=True)


def references():
    for name, sites in (
        ("gaussian_mixture_enum", ("weights", "locs", "scales")),
        ("gaussian_hmm", ("stay", "locs", "scale")),
    ):
        spec = ppl.models.get(name)
        samples, seconds = native_nuts(spec.model.__wrapped__, spec.args[0], 500, 2000, 2)
        if name == "gaussian_mixture_enum":
            order = np.argsort(samples["locs"], axis=-1)
            samples = {k: np.take_along_axis(samples[k], order, axis=-1) for k in sites}
        print(f"{name} (2 chains x 2,000 draws after 500 warmup, {seconds:.0f} s):", flush=True)
        moments(samples, sites)


#: JAX's events for tracing, lowering and compiling a program (seconds each)
_COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)
_compile_seconds = [0.0]


def _count_compile(event, duration, **kwargs):
    if event in _COMPILE_EVENTS:
        _compile_seconds[0] += duration


def _native_numpyro(model, y, num_warmup, num_samples):
    """NumPyro's own NUTS on ``model``: ``run(seed) -> seconds``, one ``MCMC`` object with
    ``jit_model_args=True``, so a second run reuses its compiled kernel."""
    import jax
    from numpyro.infer import MCMC, NUTS

    with ppl.backend("numpyro") as backend:
        (y_np,), _ = backend.convert_args((y,))
    mcmc = MCMC(NUTS(bind(model, "numpyro")), num_warmup=num_warmup, num_samples=num_samples,
                num_chains=1, progress_bar=False, jit_model_args=True)  # fmt: skip

    def run(seed):  # seconds, and those JAX spent tracing and compiling
        before, start = _compile_seconds[0], time.perf_counter()
        mcmc.run(jax.random.PRNGKey(seed), y_np)
        jax.block_until_ready(mcmc.get_samples())
        return time.perf_counter() - start, _compile_seconds[0] - before

    return run


def _native_pyro(model, y, num_warmup, num_samples, jit_compile):
    """Pyro's own NUTS on ``model`` (enumerating its states itself): ``run(seed) -> seconds``."""
    import pyro
    import torch
    from pyro.infer import MCMC, NUTS

    def run(seed):  # seconds, and no compilation counted (Pyro's jit is inside its run)
        pyro.set_rng_seed(seed)
        kernel = NUTS(bind(model, "pyro"), jit_compile=jit_compile, ignore_jit_warnings=True)
        mcmc = MCMC(kernel, num_samples=num_samples, warmup_steps=num_warmup,
                    disable_progbar=True)  # fmt: skip
        start = time.perf_counter()
        mcmc.run(torch.as_tensor(y, dtype=torch.get_default_dtype()))
        return time.perf_counter() - start, 0.0

    return run


def _ppl(model, y, backend, num_warmup, num_samples):
    def run(seed):
        start = time.perf_counter()
        post = ppl.infer(model, "nuts", args=(y,), backend=backend, num_warmup=num_warmup,
                         num_samples=num_samples, seed=seed, progress=False)  # fmt: skip
        return time.perf_counter() - start, post.timings

    return run


def timing(backend="numpyro", repeats=3, num_warmup=500, num_samples=1000, T=120,
           pyro_jit=(False,)):  # fmt: skip
    """NUTS on the HMM (1 chain): the native backend's and ``ppl.infer``'s, interleaved; the
    first call of each (compilation included) is reported apart from the warm ones
    (``pyro_jit``: the ``jit_compile`` settings of native Pyro's NUTS to time)."""
    spec = ppl.models.get("gaussian_hmm")
    y = spec.args[0][:T]
    if backend == "numpyro":
        import jax.monitoring

        jax.monitoring.register_event_duration_secs_listener(_count_compile)
        native = {"numpyro native NUTS": _native_numpyro(spec.model.__wrapped__, y, num_warmup,
                                                         num_samples)}  # fmt: skip
    else:
        native = {
            f"pyro native NUTS (jit_compile={jit})": _native_pyro(
                spec.model.__wrapped__, y, num_warmup, num_samples, jit
            )
            for jit in pyro_jit
        }
    ours = _ppl(spec.model, y, backend, num_warmup, num_samples)
    print(f"HMM T={T}, {num_warmup} warmup + {num_samples} draws, 1 chain, {backend}", flush=True)
    for repeat in range(repeats):
        times = {name: run(repeat) for name, run in native.items()}
        seconds, timings = ours(repeat)
        label = "cold (first call)" if repeat == 0 else "warm"
        # NumPyro traces and compiles its initialisation again on every run: its seconds
        # without that are its sampling alone
        cells = ", ".join(f"{name} {t:.1f} s (tracing and compiling {c:.1f} s)"
                          for name, (t, c) in times.items())  # fmt: skip
        # ppl also draws the states (native NUTS does not): its ratio leaves that out
        states = timings.get("discrete_seconds", 0.0)
        ratios = ", ".join(
            f"{(seconds - states) / t:.2f}x, run alone {timings['run_seconds'] / (t - c):.2f}x "
            f"{name}" for name, (t, c) in times.items()
        )  # fmt: skip
        print(f"repeat {repeat} [{label}]: {cells}; ppl {seconds:.1f} s (init "
              f"{timings['init_seconds']:.1f}, compile {timings['compile_seconds']:.1f}, run "
              f"{timings['run_seconds']:.1f}, states {states:.1f}); ppl without the states / "
              f"native: {ratios}", flush=True)  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--time", action="store_true")
    parser.add_argument("--backend", default="numpyro", choices=("numpyro", "pyro"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--T", type=int, default=120)
    parser.add_argument("--pyro-jit", action="store_true",
                        help="also time native Pyro's NUTS with jit_compile=True")  # fmt: skip
    options = parser.parse_args()
    if options.time:
        jit = (False, True) if options.pyro_jit else (False,)
        timing(options.backend, options.repeats, options.warmup, options.draws, options.T, jit)
    else:
        references()
