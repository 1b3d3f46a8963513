# %% [markdown]
# # Getting started: one model, two backends, two algorithms
#
# A model is an ordinary Python function of `ppl` primitives. The same source runs on NumPyro
# (JAX) and Pyro (PyTorch); the algorithm is chosen by name. Set `PPL_SMOKE=1` to run every step
# with tiny settings (the tests do).

# %%
import os

import numpy as np

import ppl
from ppl import dist, ops

SMOKE = os.environ.get("PPL_SMOKE") == "1"
NUTS = {"num_warmup": 50, "num_samples": 50} if SMOKE else {"num_warmup": 500, "num_samples": 1000}
SVI = {"num_steps": 200, "map_iterations": 50} if SMOKE else {}

# %% [markdown]
# Logistic regression with a plate over the data.


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
# NUTS on both backends, then SVI with a full-rank Gaussian guide.

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
# Every result is a `Posterior`: a summary table, ArviZ export, and plots.

# %%
post = posteriors[("nuts", "numpyro")]
print(post.summary())
idata = post.to_arviz()
axes = post.plot()
