# %% [markdown]
# # 06 · Gaussian processes: hyperparameters by SVI and by NUTS
#
# Why: a Gaussian process (GP) puts a prior on functions, and its predictions come with honest
# error bars. But those bars depend on the kernel's hyperparameters (how wiggly the function
# is, how large, how noisy the data). Fixing them at one best value (type-II maximum
# likelihood) makes the bars too narrow where the data cannot tell the values apart; treating
# them as unknowns with a posterior, and averaging the GP's prediction over it, widens them where
# it should.
#
# `ppl.models.gp_regression` is exact GP regression with an RBF kernel: the latent function is
# integrated out, so the model's only sites are the three hyperparameters (`lengthscale`,
# `variance`, `noise`) and the likelihood is `y ~ MultivariateNormal(0, K + noise I)`. We fit
# their posterior with NUTS (exact, slower) and with SVI (an approximation, fast), then predict.
# `PPL_SMOKE=1` runs with tiny settings (the tests do).

# %%
import os
import pathlib

import matplotlib.pyplot as plt
import numpy as np

import ppl
from ppl.models.gp import gp_data, gp_regression
from ppl.plots import compare as plot_compare

BACKEND = os.environ.get("PPL_BACKEND", "numpyro")
SMOKE = os.environ.get("PPL_SMOKE") == "1"
OUT = pathlib.Path("out") / "06_gaussian_processes"
OUT.mkdir(parents=True, exist_ok=True)
FIGURES = ["predictive.png", "hyperparameters.png"]

NUTS = {"num_warmup": 30, "num_samples": 30} if SMOKE else {"num_warmup": 500, "num_samples": 500}
SVI = {"num_samples": 500}
if SMOKE:
    SVI = {"num_steps": 100, "map_iterations": 20, "num_samples": 100, "tol": 0}

# %% [markdown]
# ## Data
#
# 30 noisy points of `sin(2x)` on `[-3, 3]` (noise sd 0.1); we predict on `[-4.5, 4.5]`, beyond
# the data on both sides, where the bands should widen.

# %%
X, y = gp_data(N=30, seed=0)
X_test = np.linspace(-4.5, 4.5, 200)[:, None]

# %% [markdown]
# ## Hyperparameters: two algorithms, one line each

# %%
posts = {
    "nuts": ppl.infer(
        gp_regression, "nuts", args=(X,), kwargs={"y": y}, backend=BACKEND, progress=False, **NUTS
    ),
    "svi": ppl.infer(
        gp_regression, "svi", args=(X,), kwargs={"y": y}, backend=BACKEND, progress=False, **SVI
    ),
}
for name, post in posts.items():
    print(f"--- {name}: {sum(post.timings.values()):.1f} s (compiling, warm start, running)")
    print(post.summary()[["mean", "sd", "hdi_3%", "hdi_97%"]])

# %% [markdown]
# The marginals side by side: where SVI's Gaussian (in the log of each hyperparameter) is
# narrower than NUTS, its bands below will be too.

# %%
fig = plot_compare(posts, max_params=3)
fig.savefig(OUT / "hyperparameters.png", dpi=90)
plt.show()

# %% [markdown]
# ## Predictions
#
# Given one draw of the hyperparameters, the GP's prediction at new inputs is Gaussian with a
# closed form (the standard GP conditioning formulas, in numpy below). Averaging over the
# posterior draws: for each draw, one function drawn from that Gaussian, plus the observation
# noise; the bands are the 5% and 95% quantiles of these draws (a 90% predictive band).


# %%
def rbf(A, B, variance, lengthscale):
    return variance * np.exp(-0.5 * (A - B.T) ** 2 / lengthscale**2)


def predictive_draws(post, rng, max_draws=200):
    s = {k: post.samples[k].reshape(-1)[:max_draws] for k in ("lengthscale", "variance", "noise")}
    out = []
    for ls, var, noise in zip(s["lengthscale"], s["variance"], s["noise"]):
        K = rbf(X, X, var, ls) + (noise + 1e-6) * np.eye(len(X))
        Ks, Kss = rbf(X_test, X, var, ls), rbf(X_test, X_test, var, ls)
        L = np.linalg.cholesky(K)
        A = np.linalg.solve(L, Ks.T)
        mean = A.T @ np.linalg.solve(L, y)
        cov = Kss - A.T @ A + 1e-6 * np.eye(len(X_test))
        f = rng.multivariate_normal(mean, cov, method="eigh")
        out.append(f + np.sqrt(noise) * rng.normal(size=f.shape))
    return np.array(out)


rng = np.random.default_rng(0)
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
for ax, (name, post) in zip(axes, posts.items()):
    draws = predictive_draws(post, rng)
    lo, mid, hi = np.quantile(draws, [0.05, 0.5, 0.95], axis=0)
    ax.fill_between(X_test[:, 0], lo, hi, alpha=0.3, label="90% predictive band")
    ax.plot(X_test[:, 0], mid, label="predictive median")
    ax.plot(X_test[:, 0], np.sin(2 * X_test[:, 0]), "k--", lw=0.8, label="truth sin(2x)")
    ax.scatter(X[:, 0], y, s=12, color="k", zorder=3, label="data")
    ax.set(title=f"hyperparameters by {name}", xlabel="x")
    width = (hi - lo)[np.abs(X_test[:, 0]) < 3].mean()
    print(f"{name}: mean width of the 90% band inside the data {width:.3f}")
axes[0].legend(fontsize=8, loc="lower left")
fig.tight_layout()
fig.savefig(OUT / "predictive.png", dpi=90)
plt.show()

# %% [markdown]
# Inside the data both bands are narrow and follow `sin(2x)`; beyond `|x| = 3` they widen back
# to the prior's spread, as a GP's should. Compare the band widths printed above: the closer
# SVI's is to NUTS's, the less its approximation of the hyperparameters costs here.
