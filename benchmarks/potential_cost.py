"""Per-call cost of ``Problem.potential`` and its gradient against hand-written log densities.

Logistic regression (N=10,000, D=20, float32). On torch: the recorded potential (built once per
model structure, no Pyro messengers per call), the same potential re-tracing the model with Pyro's
messengers on every call (``record=False``, what a naive wrapper does), the compiled value and
gradient (``compile=True``: ``make_fx`` + ``torch.compile``; its compile time is printed), and a
hand-written torch log density. On JAX: the jitted potential against a hand-written jitted
``jax.numpy`` density.

    python benchmarks/potential_cost.py --calls 300 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from benchmarks.overhead import logistic_data, ppl_logistic


def per_call(fn, calls, repeats):
    fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - start) / calls)
    return statistics.median(samples)


def torch_rows(X, y, calls, repeats):
    import torch

    import ppl
    from ppl.backends import bind
    from ppl.backends.pyro.problem import build_problem

    backend = ppl.get_backend("pyro")
    args, kwargs = backend.convert_args((X, y))
    recorded = backend.problem(ppl_logistic, args, kwargs)
    compiled = backend.problem(ppl_logistic, args, kwargs, compile=True)
    print(f"compile=True: {compiled.compile_seconds:.1f} s to compile\n")
    with ppl.backend("pyro"):
        eager = build_problem(backend, bind(ppl_logistic, "pyro"), args, kwargs, {}, record=False)
    Xt, yt = args
    z = torch.zeros(recorded.dim)

    def hand(z):
        w, b = z[:-1], z[-1]
        logits = Xt @ w + b
        loglik = -torch.nn.functional.binary_cross_entropy_with_logits(logits, yt, reduction="sum")
        return -(loglik - 0.5 * (z**2).sum())

    rows = {}
    for name, f in (
        ("hand-written torch", hand),
        ("ppl recorded", recorded.potential),
        ("ppl eager (per-call trace)", eager.potential),
    ):
        vg = backend.value_and_grad(f)
        rows[name] = per_call(lambda vg=vg: vg(z), calls, repeats)
    rows["ppl compiled (compile=True)"] = per_call(
        lambda: compiled.value_and_grad(z), calls, repeats
    )
    return rows


def jax_rows(X, y, calls, repeats):
    import jax
    import jax.numpy as jnp

    import ppl

    backend = ppl.get_backend("numpyro")
    problem = backend.problem(ppl_logistic, (X, y))
    Xj, yj = jnp.asarray(X), jnp.asarray(y)

    def hand(z):
        w, b = z[:-1], z[-1]
        logits = Xj @ w + b
        loglik = jnp.sum(yj * logits - jnp.logaddexp(0.0, logits))
        return -(loglik - 0.5 * jnp.sum(z**2))

    z = jnp.zeros(problem.dim)
    rows = {}
    for name, f in (("hand-written jax", hand), ("ppl potential", problem.potential)):
        vg = jax.jit(jax.value_and_grad(f))
        rows[name] = per_call(lambda vg=vg: jax.block_until_ready(vg(z)), calls, repeats)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    a = parser.parse_args(argv)
    X, y = logistic_data()
    print("| backend | potential + gradient | µs per call | × hand-written |")
    print("|---|---|---|---|")
    for backend, rows in (
        ("pyro", torch_rows(X, y, a.calls, a.repeats)),
        ("numpyro", jax_rows(X, y, a.calls, a.repeats)),
    ):
        base = next(iter(rows.values()))
        for name, seconds in rows.items():
            print(f"| {backend} | {name} | {seconds * 1e6:.0f} | {seconds / base:.2f} |")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
