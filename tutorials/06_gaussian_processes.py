# %% [markdown]
# # 06 · Gaussian processes: exact GP by SVI and NUTS, sparse GP classifier in GPyTorch
#
# Why: a Gaussian process (GP) puts a prior on functions, and its predictions come with honest
# error bars. But those bars depend on the kernel's hyperparameters (how wiggly the function
# is, how large, how noisy the data). Fixing them at one best value (type-II maximum
# likelihood) makes the bars too narrow where the data cannot tell the values apart; treating
# them as unknowns with a posterior, and averaging the GP's prediction over it, widens them where
# it should.
#
# Part 1: `ppl.models.gp_regression` is exact GP regression with an RBF kernel: the latent
# function is integrated out, so the model's only sites are the three hyperparameters
# (`lengthscale`, `variance`, `noise`) and the likelihood is
# `y ~ MultivariateNormal(0, K + noise I)`. We fit their posterior with NUTS (exact, slower) and
# with SVI (an approximation, fast), then predict.
#
# Part 2: the exact GP stops working in two cases, many data points and a likelihood that is not
# Gaussian; a sparse variational GP (SVGP) written in GPyTorch handles both, here as a
# classifier trained by ppl's `svi` on the Pyro backend.
#
# `PPL_BACKEND` picks the backend of part 1 (default `numpyro`); part 2 always runs on Pyro.
# `PPL_SMOKE=1` runs with tiny settings (the tests do).

# %%
import importlib.util
import os
import pathlib
import warnings

# one torch thread: part 2's tensors are small, and on this project's shared 2-core machine,
# busy, torch's thread pool cost ten times what it saved (about 200 ms a step against 20 ms,
# measured); it must be set before torch is first imported
os.environ.setdefault("OMP_NUM_THREADS", "1")

import matplotlib.pyplot as plt
import numpy as np

import ppl
from ppl.models.gp import gp_data, gp_regression
from ppl.plots import compare as plot_compare

BACKEND = os.environ.get("PPL_BACKEND", "numpyro")
SMOKE = os.environ.get("PPL_SMOKE") == "1"
OUT = pathlib.Path("out") / "06_gaussian_processes"
OUT.mkdir(parents=True, exist_ok=True)
FIGURES = ["predictive.png", "hyperparameters.png", "svgp_classification.png"]
#: figures that need an optional package (GPyTorch is the extra "gp": pip install 'ppl[gp]');
#: without it their section prints why it is skipped and writes no figure, and
#: tests/test_tutorials.py does not expect them
NEEDS = {"svgp_classification.png": "gpytorch"}

NUTS = {"num_warmup": 30, "num_samples": 30} if SMOKE else {"num_warmup": 500, "num_samples": 500}
SVI = {"num_samples": 500}
if SMOKE:
    SVI = {"num_steps": 100, "map_iterations": 20, "num_samples": 100, "tol": 0}
# part 2: the number of points and SVI's steps (at most: it stops when the loss stops falling)
SVGP_N, SVGP_SVI = (100, {"num_steps": 40, "tol": 0}) if SMOKE else (1000, {"num_steps": 3000})

# %% [markdown]
# ## Part 1: exact GP regression
#
# ### Data
#
# 30 noisy points of `sin(2x)` on `[-3, 3]` (noise sd 0.1); we predict on `[-4.5, 4.5]`, beyond
# the data on both sides, where the bands should widen.

# %%
X, y = gp_data(N=30, seed=0)
X_test = np.linspace(-4.5, 4.5, 200)[:, None]

# %% [markdown]
# ### Hyperparameters: two algorithms, one line each

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
# ### Predictions
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

# %% [markdown]
# ## Part 2: many points and a class label: a sparse variational GP in GPyTorch
#
# The exact GP above costs `O(N^3)` (a Cholesky factor of the `N x N` kernel matrix) at every
# evaluation of the likelihood: fine for 30 points, not for tens of thousands. And it relied on a
# Gaussian likelihood, which lets the latent function be integrated out in closed form; for a
# class label, `y ~ Bernoulli(sigmoid(f(x)))`, there is no closed form.
#
# A **sparse variational GP** (SVGP; Hensman et al. 2015) answers both. It summarizes the
# function by its values `u` at `M` **inducing points** (here 16, their locations learned too),
# and puts a Gaussian variational posterior `q(u)` on them; `q(u)` and the GP prior imply a
# Gaussian `q(f(x))` at every input, at a cost linear in `N` (`O(N M^2)`). Training maximizes
# the ELBO: the expected log-likelihood of the labels under `q(f(x))` (a Monte Carlo estimate
# from draws of `f`, so any likelihood works) minus `KL(q(u) || p(u))`. That is exactly what
# `svi` does, with the GP's variational distribution as the guide.
#
# `ppl.models.gp_gpytorch` writes this model in **GPyTorch** (`make_svgp` builds the
# `ApproximateGP` module; `svgp_classifier` and `svgp_guide` are its model and guide through
# GPyTorch's Pyro integration). A GPyTorch model is a native torch module, so it exists on the
# Pyro backend only, and ppl accepts it there as it is: this part always runs with
# `backend="pyro"`, whichever backend `PPL_BACKEND` chose for part 1. The data: `SVGP_N` points
# on `[-3, 3]` labelled `1[sin(2x) + 0.3 eps > 0]`, so the true class-1 probability is
# `Phi(sin(2x) / 0.3)` (`Phi` the standard normal CDF).

# %%
HAS_GPYTORCH = importlib.util.find_spec(NEEDS["svgp_classification.png"]) is not None
if not HAS_GPYTORCH:
    print("GPyTorch is not installed (pip install 'ppl[gp]'): part 2 is skipped.")
else:
    from scipy.special import expit, ndtr

    from ppl.models.gp_gpytorch import (
        make_svgp,
        svgp_classifier,
        svgp_data,
        svgp_guide,
        svgp_predict,
    )

    Xc, yc = svgp_data(N=SVGP_N, seed=0)
    # 16 inducing points, evenly spread to start with (SVI moves them)
    gp = make_svgp(np.linspace(-3.0, 3.0, 16)[:, None])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # GPyTorch's notices of added jitter
        svgp_post = ppl.infer(
            svgp_classifier, "svi", args=(Xc,), kwargs={"y": yc, "gp": gp},
            guide=svgp_guide, backend="pyro", progress=False, num_samples=100, **SVGP_SVI,
        )  # fmt: skip
    # (num_samples: the guide's draws the Posterior keeps; the predictions below read the module)
    loss = svgp_post.sample_stats["loss"][0]
    print(
        f"SVGP, N={SVGP_N}: {len(loss)} svi steps in {sum(svgp_post.timings.values()):.1f} s; "
        f"loss (negative ELBO) {loss[:20].mean():.1f} over the first 20 steps, "
        f"{loss[-20:].mean():.1f} over the last 20"
    )

# %% [markdown]
# SVI trained the GPyTorch module in place (its kernel hyperparameters, `q(u)` and the inducing
# locations), so `svgp_predict(gp, X)` gives the mean and sd of `q(f(x))` at new inputs. The
# predicted probability of class 1 is `E[sigmoid(f(x))]` under `q` (estimated from 2000 draws);
# the band is `sigmoid` of the 5% and 95% quantiles of `q(f(x))`, a 90% band for the probability
# (`sigmoid` is increasing, so it maps quantiles to quantiles). Beyond the data the band should
# widen towards the prior's.

# %%
if HAS_GPYTORCH:
    x_grid = np.linspace(-4.5, 4.5, 200)[:, None]
    f_mean, f_sd = svgp_predict(gp, x_grid)
    # 2000 draws of f(x) ~ q at every x; the same standard normal draws at every x, which
    # keeps the averaged curve smooth (each x's draws still follow its own q(f(x)))
    f_draws = f_mean + f_sd * np.random.default_rng(1).normal(size=(2000, 1))
    p_mean = expit(f_draws).mean(axis=0)
    p_lo, p_hi = expit(f_mean - 1.645 * f_sd), expit(f_mean + 1.645 * f_sd)
    p_true = ndtr(np.sin(2 * x_grid[:, 0]) / 0.3)
    with ppl.backend("pyro"):
        inducing = ppl.ops.to_numpy(gp.variational_strategy.inducing_points)[:, 0]

    fig, ax = plt.subplots(figsize=(9, 3.8))
    ax.fill_between(x_grid[:, 0], p_lo, p_hi, alpha=0.3, label="90% band of P(y=1)")
    ax.plot(x_grid[:, 0], p_mean, label="predicted P(y=1)")
    ax.plot(x_grid[:, 0], p_true, "k--", lw=0.8, label="truth Phi(sin(2x)/0.3)")
    jitter = np.random.default_rng(2).uniform(-0.03, 0.03, size=len(yc))
    ax.scatter(Xc[:, 0], yc + jitter, s=4, color="k", alpha=0.3, label="labels (jittered)")
    ax.plot(inducing, np.full_like(inducing, -0.1), "r^", ms=6, label="inducing points (learned)")
    ax.set(xlabel="x", ylabel="P(y = 1)", ylim=(-0.15, 1.1))
    ax.set_title(f"GPyTorch SVGP classifier, {SVGP_N} points, trained by ppl svi on Pyro")
    ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(OUT / "svgp_classification.png", dpi=90)
    plt.show()

    inside, outside = np.abs(x_grid[:, 0]) < 3, np.abs(x_grid[:, 0]) > 3.5
    print(
        f"mean |predicted - true P(y=1)| inside the data: "
        f"{np.abs(p_mean - p_true)[inside].mean():.3f}"
    )
    print(
        f"mean width of the 90% band: inside the data {(p_hi - p_lo)[inside].mean():.3f}, "
        f"beyond |x| = 3.5 {(p_hi - p_lo)[outside].mean():.3f}"
    )

# %% [markdown]
# Inside the data the predicted probability follows the true one and its band is narrow; beyond
# `|x| = 3` there are no labels, and the band widens towards the prior's, as for the exact GP
# above. Compare the numbers printed above. Here every step uses all `SVGP_N` points; GPyTorch's
# own examples go further by training on minibatches, which is how an SVGP reaches millions.
