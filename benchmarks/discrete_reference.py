"""Reference posteriors of the enumerated models (``gaussian_hmm``, ``gaussian_mixture_enum``)
from long runs of NumPyro's own NUTS (which enumerates the discrete sites itself), and, with
``--time``, NUTS on the HMM through ``ppl.infer`` against NumPyro's NUTS on the same model,
interleaved in the same process.

Command: ``PYTHONPATH=$PWD .venv/bin/python benchmarks/discrete_reference.py [--time]``.
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


def timing(repeats=2):
    spec = ppl.models.get("gaussian_hmm")
    y = spec.args[0]
    rows = {"numpyro native NUTS": [], "ppl nuts (numpyro)": []}
    for repeat in range(repeats):
        _, seconds = native_nuts(spec.model.__wrapped__, y, 500, 1000, 1, seed=repeat)
        rows["numpyro native NUTS"].append(seconds)
        start = time.perf_counter()
        post = ppl.infer(spec.model, "nuts", args=(y,), backend="numpyro", num_warmup=500,
                         num_samples=1000, num_chains=1, seed=repeat, progress=False)  # fmt: skip
        rows["ppl nuts (numpyro)"].append(time.perf_counter() - start)
        print(f"repeat {repeat}: native {rows['numpyro native NUTS'][-1]:.1f} s, ppl "
              f"{rows['ppl nuts (numpyro)'][-1]:.1f} s {post.timings}", flush=True)  # fmt: skip
    for name, values in rows.items():
        print(f"{name}: median {np.median(values):.1f} s over {repeats} ({values})", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--time", action="store_true")
    if parser.parse_args().time:
        timing()
    else:
        references()
