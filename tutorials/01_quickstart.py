# %% [markdown]
# # 01 · Quickstart: one model, two backends, two algorithms
#
# Why `ppl`: a model written for Pyro only runs on PyTorch, one written for NumPyro only on JAX,
# and each library ships its own set of inference algorithms. In `ppl` a model is an ordinary
# Python function of `ppl` primitives (`sample`, `plate`, `param`); the same source runs on
# NumPyro (JAX) and Pyro (PyTorch), and the inference algorithm is chosen by name.
#
# This notebook fits one logistic regression with NUTS and with SVI on both backends, checks that
# the four answers agree, and plots one of them.
#
# Settings: `PPL_BACKEND` picks the backend used for the summary and the plot (default
# `numpyro`); `PPL_SMOKE=1` runs every step with tiny settings (the tests do), so its numbers
# are rough.

# %%
import os
import pathlib

import matplotlib.pyplot as plt
import numpy as np

import ppl
from ppl import dist, ops

BACKEND = os.environ.get("PPL_BACKEND", "numpyro")
SMOKE = os.environ.get("PPL_SMOKE") == "1"
OUT = pathlib.Path("out") / "01_quickstart"
OUT.mkdir(parents=True, exist_ok=True)
FIGURES = ["trace.png"]

NUTS = {"num_warmup": 50, "num_samples": 50} if SMOKE else {"num_warmup": 500, "num_samples": 1000}
SVI = {"num_steps": 100, "map_iterations": 20, "tol": 0} if SMOKE else {}

# %% [markdown]
# ## The model
#
# Logistic regression: weights `w` and bias `b` with standard normal priors, and one Bernoulli
# observation per row of `X`. The `plate` says the rows are conditionally independent given `w`
# and `b`; both backends use it to vectorize, and SG-MCMC to subsample. We simulate the data from
# known weights `[1, -2, 0.5]` and bias `0.3`, so we know what the posterior should be near.


# %%
def model(X, y=None):
    w = ppl.sample("w", dist.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
    b = ppl.sample("b", dist.Normal(0.0, 1.0))
    with ppl.plate("data", X.shape[0]):
        ppl.sample("y", dist.Bernoulli(logits=ops.matmul(X, w) + b), obs=y)


rng = np.random.default_rng(0)
X = rng.normal(size=(300, 3))
y = (rng.random(300) < 1 / (1 + np.exp(-(X @ np.array([1.0, -2.0, 0.5]) + 0.3)))).astype(float)

# %% [markdown]
# ## Two algorithms on two backends
#
# `ppl.infer(model, method, args=..., kwargs=..., backend=...)` runs any registered algorithm
# (`ppl algorithms` lists them). The model's own arguments go in `args`/`kwargs`, so they never
# collide with the algorithm's options (`num_samples`, `guide`, ...). NUTS is the gold standard
# for a small smooth posterior; SVI with a full-rank Gaussian guide (`guide="mvn"`) is the fast
# approximation. The posterior means of `w` should agree across all four runs.

# %%
posteriors = {}
for backend in ppl.backends():
    posteriors[("nuts", backend)] = ppl.infer(
        model, "nuts", args=(X,), kwargs={"y": y}, backend=backend, progress=False, **NUTS
    )
    posteriors[("svi", backend)] = ppl.infer(
        model,
        "svi",
        args=(X,),
        kwargs={"y": y},
        backend=backend,
        guide="mvn",
        progress=False,
        **SVI,
    )
for (method, backend), post in posteriors.items():
    print(f"{method:>4} {backend:<8} w mean = {np.round(post.samples['w'].mean(axis=(0, 1)), 2)}")

# %% [markdown]
# ## One result type
#
# Every algorithm returns a `Posterior`: `samples` (numpy, `(chain, draw, *site_shape)`), a
# `summary()` table, `to_arviz()` for the ArviZ tool box, and `plot()` for trace plots.

# %%
post = posteriors[("nuts", BACKEND)]
print(post.summary())
idata = post.to_arviz()
axes = post.plot()
plt.gcf().savefig(OUT / "trace.png", dpi=90)
plt.show()
