"""Overhead of ``ppl.infer`` against the same native Pyro / NumPyro calls, measured in one run.

Models: logistic regression (N=10,000, D=20) and eight schools (non-centred). Methods: ``svi``
(AutoNormal, Trace_ELBO, Adam 0.01, ``--svi-steps`` steps, then 1,000 guide draws) and ``nuts``
(``--warmup`` + ``--samples``). Each contender runs the same work: ppl's SVI is started the way
native SVI is (``init="median"``) and runs every step (``tol=0``), and every timing is a full
call, compilation included, after one warm-up call (so JAX's compile cache is warm for both sides
alike).

    python benchmarks/overhead.py --repeats 5            # the full run recorded in RESULTS.md
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform

import numpy as np

import ppl
from benchmarks._timing import median_seconds
from ppl import dist, ops

EIGHT_Y = np.array([28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0])
EIGHT_SIGMA = np.array([15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0])


def logistic_data(n=10_000, d=20, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    w = rng.normal(size=d) * 0.5
    y = (rng.random(n) < 1 / (1 + np.exp(-X @ w))).astype(np.float32)
    return X, y


# ---- the models in ppl primitives ------------------------------------------------------------
def ppl_logistic(X, y):
    w = ppl.sample("w", dist.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
    b = ppl.sample("b", dist.Normal(0.0, 1.0))
    with ppl.plate("data", X.shape[0]):
        ppl.sample("y", dist.Bernoulli(logits=ops.matmul(X, w) + b), obs=y)


def ppl_eight(sigma, y):
    mu = ppl.sample("mu", dist.Normal(0.0, 5.0))
    tau = ppl.sample("tau", dist.HalfCauchy(5.0))
    with ppl.plate("schools", sigma.shape[0]):
        theta_tilde = ppl.sample("theta_tilde", dist.Normal(0.0, 1.0))
        ppl.sample("y", dist.Normal(mu + tau * theta_tilde, sigma), obs=y)


# ---- the same models, native ---------------------------------------------------------------------
def native(lib):
    """(logistic, eight_schools) written directly in ``lib`` (numpyro or pyro)."""
    d = lib.distributions

    def logistic(X, y):
        w = lib.sample("w", d.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
        b = lib.sample("b", d.Normal(0.0, 1.0))
        with lib.plate("data", X.shape[0]):
            lib.sample("y", d.Bernoulli(logits=X @ w + b), obs=y)

    def eight(sigma, y):
        mu = lib.sample("mu", d.Normal(0.0, 5.0))
        tau = lib.sample("tau", d.HalfCauchy(5.0))
        with lib.plate("schools", sigma.shape[0]):
            theta_tilde = lib.sample("theta_tilde", d.Normal(0.0, 1.0))
            lib.sample("y", d.Normal(mu + tau * theta_tilde, sigma), obs=y)

    return {"logistic": logistic, "eight_schools": eight}


def numpyro_calls(model, args, steps, warmup, samples):
    import jax
    import numpyro
    import optax
    from numpyro.infer import MCMC, NUTS, SVI, Trace_ELBO
    from numpyro.infer.autoguide import AutoNormal

    args = tuple(jax.numpy.asarray(a) for a in args)

    def svi():
        guide = AutoNormal(model)
        svi = SVI(model, guide, numpyro.optim.optax_to_numpyro(optax.adam(0.01)), Trace_ELBO())
        result = svi.run(jax.random.PRNGKey(0), steps, *args, progress_bar=False)
        draws = guide.sample_posterior(jax.random.PRNGKey(1), result.params, sample_shape=(1000,))
        jax.block_until_ready(draws)

    def nuts():
        mcmc = MCMC(NUTS(model), num_warmup=warmup, num_samples=samples, progress_bar=False)
        mcmc.run(jax.random.PRNGKey(0), *args)
        jax.block_until_ready(mcmc.get_samples())

    return svi, nuts


def pyro_calls(model, args, steps, warmup, samples):
    import pyro
    import torch
    from pyro.infer import MCMC, NUTS, SVI, Predictive, Trace_ELBO
    from pyro.infer.autoguide import AutoNormal

    args = tuple(torch.as_tensor(a) for a in args)

    def svi():
        pyro.clear_param_store()
        pyro.set_rng_seed(0)
        guide = AutoNormal(model)
        svi = SVI(model, guide, pyro.optim.Adam({"lr": 0.01}), Trace_ELBO())
        for _ in range(steps):
            svi.step(*args)
        with torch.no_grad():
            Predictive(guide, num_samples=1000)(*args)

    def nuts(jit_compile=False):
        pyro.set_rng_seed(0)
        kernel = NUTS(model, jit_compile=jit_compile, ignore_jit_warnings=True)
        mcmc = MCMC(kernel, warmup_steps=warmup, num_samples=samples, disable_progbar=True)
        mcmc.run(*args)

    return svi, nuts


@contextlib.contextmanager
def counting_pyro_gradients():
    """Count the potential-gradient evaluations of Pyro's integrator (native and ppl NUTS alike
    take their leapfrog gradients through ``pyro.ops.integrator.potential_grad``; the few of
    the kernels' setup, imported by name elsewhere, are not counted): the two sides draw
    different random trajectories, so their times compare per gradient, not per call."""
    import pyro.ops.integrator as integrator

    original, count = integrator.potential_grad, [0]

    def counted(*args, **kwargs):
        count[0] += 1
        return original(*args, **kwargs)

    integrator.potential_grad = counted
    try:
        yield count
    finally:
        integrator.potential_grad = original


def gradients_per_call(fn) -> int:
    with counting_pyro_gradients() as count:
        fn()
    return count[0]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--svi-steps", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--backends", default="numpyro,pyro")
    parser.add_argument("--models", default="logistic,eight_schools")
    parser.add_argument("--methods", default="svi,nuts")
    parser.add_argument("--json", help="also write the rows to this file")
    a = parser.parse_args(argv)
    data = {"logistic": logistic_data(), "eight_schools": (EIGHT_SIGMA, EIGHT_Y)}
    ppl_models = {"logistic": ppl_logistic, "eight_schools": ppl_eight}
    rows = []
    for backend in a.backends.split(","):
        if backend == "numpyro":
            import numpyro as lib

            calls = numpyro_calls
        else:
            import pyro as lib

            calls = pyro_calls
        natives = native(lib)
        for name in a.models.split(","):
            args = data[name]
            svi, nuts = calls(natives[name], args, a.svi_steps, a.warmup, a.samples)
            ours = {
                "svi": lambda name=name, args=args, backend=backend: ppl.infer(
                    ppl_models[name],
                    "svi",
                    args=args,
                    backend=backend,
                    guide="normal",
                    init="median",
                    lr=0.01,
                    num_steps=a.svi_steps,
                    tol=0,  # every step, as native SVI does (no early stop)
                    num_samples=1000,
                    progress=False,
                ),
                "nuts": lambda name=name, args=args, backend=backend: ppl.infer(
                    ppl_models[name],
                    "nuts",
                    args=args,
                    backend=backend,
                    num_warmup=a.warmup,
                    num_samples=a.samples,
                    progress=False,
                ),
            }
            for method in a.methods.split(","):
                fns = {"native": {"svi": svi, "nuts": nuts}[method], "ppl": ours[method]}
                times = median_seconds(fns, a.repeats)
                row = {
                    "backend": backend,
                    "model": name,
                    "method": method,
                    "native_s": times["native"],
                    "ppl_s": times["ppl"],
                    "ratio": times["ppl"] / times["native"],
                }
                if backend == "pyro" and method == "nuts":  # same seed, same count each call
                    for side, fn in fns.items():
                        row[f"{side}_us_per_grad"] = 1e6 * times[side] / gradients_per_call(fn)
                    row["ratio_per_grad"] = row["ppl_us_per_grad"] / row["native_us_per_grad"]
                rows.append(row)
                print(json.dumps(row), flush=True)
    print(f"\nmachine: {platform.processor() or platform.machine()}, repeats={a.repeats}")
    print("| backend | model | method | native s | ppl s | ppl / native | per gradient |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        per_grad = (
            f"{r['native_us_per_grad']:.0f} / {r['ppl_us_per_grad']:.0f} us = "
            f"{r['ratio_per_grad']:.2f}"
            if "ratio_per_grad" in r
            else ""
        )
        print(
            f"| {r['backend']} | {r['model']} | {r['method']} | {r['native_s']:.2f} "
            f"| {r['ppl_s']:.2f} | {r['ratio']:.2f} | {per_grad} |"
        )
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
