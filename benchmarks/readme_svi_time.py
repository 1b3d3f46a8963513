"""Time the README's svi example (200 x 3 logistic regression, guide="mvn", svi's defaults) in a
fresh process: ``python benchmarks/readme_svi_time.py numpyro`` (or ``pyro``). Prints the wall
time of ``ppl.infer`` with the backend's first import in it, and that import's share; the
steps it ran, its timings, any warnings, and on NumPyro the number of XLA compilations (JAX's
compile-time hook, registered after the timed import)."""

import sys
import time
import warnings

import numpy as np

import ppl
from ppl import dist, ops


def model(X, y=None):
    w = ppl.sample("w", dist.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
    b = ppl.sample("b", dist.Normal(0.0, 1.0))
    with ppl.plate("data", X.shape[0]):
        ppl.sample("y", dist.Bernoulli(logits=ops.matmul(X, w) + b), obs=y)


X = np.random.default_rng(0).normal(size=(200, 3))
y = (X[:, 0] > 0).astype(float)
backend = sys.argv[1]
compilations = []
t1 = time.perf_counter()
ppl.get_backend(backend)  # the backend's first import (``ppl.infer`` would do it)
t_import = time.perf_counter() - t1
if backend == "numpyro":
    import jax.monitoring  # already imported: costs nothing here

    jax.monitoring.register_event_duration_secs_listener(
        lambda event, seconds, **kw: (
            compilations.append(seconds)
            if event == "/jax/core/compile/backend_compile_duration"
            else None
        )
    )
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    post = ppl.infer(
        model, "svi", args=(X,), kwargs={"y": y}, backend=backend, guide="mvn", progress=False
    )
t2 = time.perf_counter()
print(
    backend,
    f"infer {t2 - t1:.1f}s (backend import {t_import:.1f}s and compilation included)",
    f"XLA compilations {len(compilations)} ({sum(compilations):.1f}s)" if compilations else "",
    "steps",
    post.sample_stats["loss"].shape,
    {k: round(v, 2) for k, v in post.timings.items()},
    "warnings:",
    [str(x.message)[:80] for x in w],
)
