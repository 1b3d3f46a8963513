"""``gibbs`` against NumPyro's own ``DiscreteHMCGibbs`` on the change-point model (issue 21).

The registered ``change_point`` model (T=40 counts, ``tau`` uniform on 0..40, two Gamma
rates): ``ppl``'s ``gibbs`` (exact conditional draws of ``tau``, HMC with 10 leapfrog steps on
the rates) on NumPyro and on Pyro, and NumPyro's ``DiscreteHMCGibbs`` around ``HMC(num_steps=10)``
(the same scheme: a Gibbs sweep of ``tau`` from its exact conditional, then one HMC transition)
and around ``NUTS``, written natively in NumPyro. One chain, ``--warmup`` steps.

A NumPyro ``MCMC.run`` costs seconds of tracing and compiling at every call (even the
second, with ``jit_model_args=True``), far more than its steps, so NumPyro's rows are timed by
difference: after a first call (compile included, reported), one call with ``--samples``
draws and one with ten times as many; the time per step is the difference over the extra
steps, and the fixed cost per call is what remains. ``ppl``'s rows take the time of the steps
from ``post.timings["run_seconds"]`` (its compiled chunk is specific to the number of steps,
so the long call compiles again, which a difference would count as steps). The total
variation (TV) of the ``tau`` draws against the exact posterior and their effective sample
size (ESS) come from the long call; ESS per second is over its steps at the per-step time.
Pyro's row is one call of ``--pyro-samples`` draws, timed by ``post.timings["run_seconds"]``,
with torch on one thread (``torch.set_num_threads(1)``) as in the other benchmarks: on the
shared 2-core machine its intra-op threads otherwise spin against other processes.

Run: ``.venv/bin/python benchmarks/gibbs_speed.py`` (a Markdown table on stdout).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import ppl
from ppl.inference.checks import chain_ess
from ppl.models.discrete import change_point_posterior


def numpyro_model(counts, concentration=2.0, rate=0.5):
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as nd

    T = counts.shape[0]
    tau = numpyro.sample("tau", nd.Categorical(logits=jnp.zeros(T + 1)))
    early = numpyro.sample("early_rate", nd.Gamma(concentration, rate))
    late = numpyro.sample("late_rate", nd.Gamma(concentration, rate))
    with numpyro.plate("time", T):
        rates = jnp.where(jnp.arange(T) < tau, early, late)
        numpyro.sample("counts", nd.Poisson(rates), obs=counts)


def _score(tau, exact):
    tau = np.asarray(tau).reshape(1, -1)
    counts = np.bincount(tau.reshape(-1), minlength=len(exact))
    tv = 0.5 * float(np.abs(counts / counts.sum() - exact).sum())
    return tv, float(chain_ess(tau[..., None].astype(float))[0])


def _ppl_call(backend, counts, warmup, steps):
    spec = ppl.models.get("change_point")

    def call(samples, seed):
        post = ppl.infer(spec.model, "gibbs", args=(counts,), backend=backend, seed=seed,
                         progress=False, num_warmup=warmup, num_samples=samples,
                         num_steps=steps)  # fmt: skip
        return post.samples["tau"], post.timings["run_seconds"]

    return call


def _native_call(inner, counts, warmup, steps):
    import jax
    import jax.numpy as jnp
    from numpyro.infer import HMC, MCMC, NUTS, DiscreteHMCGibbs

    kernel = HMC(numpyro_model, num_steps=steps) if inner == "HMC" else NUTS(numpyro_model)
    data = jnp.asarray(counts)

    def call(samples, seed):
        mcmc = MCMC(DiscreteHMCGibbs(kernel), num_warmup=warmup, num_samples=samples,
                    progress_bar=False, jit_model_args=True)  # fmt: skip
        mcmc.run(jax.random.PRNGKey(seed), data)
        return np.asarray(jax.block_until_ready(mcmc.get_samples()["tau"])), None

    return call


def timed_by_difference(call, warmup, samples):
    """``(first call s, fixed s per call, ms per step, tau of the long call)``."""
    t0 = time.perf_counter()
    call(samples, 0)
    first = time.perf_counter() - t0
    walls = []
    for n, seed in ((samples, 1), (10 * samples, 2)):
        t0 = time.perf_counter()
        tau, run_seconds = call(n, seed)
        walls.append(time.perf_counter() - t0)
    if run_seconds is None:
        per_step = (walls[1] - walls[0]) / (9 * samples)
    else:  # the steps timed by the driver
        per_step = run_seconds / (warmup + 10 * samples)
    return first, walls[0] - (warmup + samples) * per_step, per_step, tau


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--pyro-samples", type=int, default=300)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args(argv)
    counts = ppl.models.get("change_point").args[0]
    exact = change_point_posterior(counts)["tau"]
    print(f"change_point (T={len(counts)}), one chain, {args.warmup} warmup steps, HMC "
          f"num_steps={args.steps}; JAX rows: {args.samples} and {10 * args.samples} draws, "
          f"Pyro: {args.pyro_samples} draws\n")  # fmt: skip
    print("| sampler | first call s (compile incl.) | fixed s per call | ms / step | TV(tau) | "
          "ESS(tau) | ESS(tau) / s of steps |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    jax_rows = {
        "ppl gibbs (NumPyro)": _ppl_call("numpyro", counts, args.warmup, args.steps),
        "NumPyro DiscreteHMCGibbs(HMC)": _native_call("HMC", counts, args.warmup, args.steps),
        "NumPyro DiscreteHMCGibbs(NUTS)": _native_call("NUTS", counts, args.warmup, args.steps),
    }
    for name, call in jax_rows.items():
        first, fixed, per_step, tau = timed_by_difference(call, args.warmup, args.samples)
        tv, ess = _score(tau, exact)
        seconds = (args.warmup + 10 * args.samples) * per_step
        print(f"| {name} | {first:.2f} | {fixed:.2f} | {1e3 * per_step:.4f} | {tv:.3f} | "
              f"{ess:.0f} | {ess / seconds:.0f} |")  # fmt: skip
    import torch

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    tau, run_seconds = _ppl_call("pyro", counts, args.warmup, args.steps)(args.pyro_samples, 0)
    wall = time.perf_counter() - t0
    per_step = run_seconds / (args.warmup + args.pyro_samples)
    tv, ess = _score(tau, exact)
    print(f"| ppl gibbs (Pyro) | {wall:.2f} | {wall - run_seconds:.2f} | {1e3 * per_step:.4f} | "
          f"{tv:.3f} | {ess:.0f} | {ess / run_seconds:.0f} |")  # fmt: skip


if __name__ == "__main__":
    main()
