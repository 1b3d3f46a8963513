# %% [markdown]
# # A Bayesian neural network with stochastic-gradient MCMC
#
# NUTS needs the gradient of the log density on *all* the data at every leapfrog step, and
# hundreds of steps per draw: fine for a few hundred data points and parameters, hopeless for
# a neural network on a large data set. Stochastic-gradient MCMC (SG-MCMC) takes one noisy
# step per minibatch, like SGD, and adds just enough noise that the iterates become draws
# from the posterior rather than a point estimate. This tutorial fits a small Bayesian neural
# network (BNN) to a real regression data set with four SG-MCMC samplers and with SVI, and
# compares them on what matters for predictions: held-out log-likelihood and calibration.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
from scipy.special import logsumexp
from scipy.stats import norm
from sklearn.datasets import load_diabetes

import ppl
from ppl import dist, ops

BACKEND = os.environ.get("PPL_BACKEND", "numpyro")
SMOKE = os.environ.get("PPL_SMOKE") == "1"
OUT = "out/03_sgmcmc_bnn"
FIGURES = ["heldout_loglik.png", "calibration.png"]
os.makedirs(OUT, exist_ok=True)
ppl.set_backend(BACKEND)
# SG-MCMC: steps discarded, draws kept, keep every `thinning`-th step
RUN = {"num_warmup": 20_000, "num_samples": 1000, "thinning": 10}
SVI = {"num_steps": 20_000, "lr": 0.01}
if SMOKE:
    RUN = {"num_warmup": 50, "num_samples": 50, "thinning": 1}
    SVI = {"num_steps": 200, "lr": 0.01}

# %% [markdown]
# ## The data
#
# scikit-learn's diabetes data (shipped inside the package, no download): ten baseline
# measurements of 442 patients and a measure of disease progression one year later. We hold
# out 100 patients for testing and standardize inputs and target with the training
# statistics, so that unit-scale priors make sense.

# %%
X, y = load_diabetes(return_X_y=True)
order = np.random.default_rng(0).permutation(len(y))
test, train = order[:100], order[100:]
x_mean, x_sd = X[train].mean(0), X[train].std(0)
y_mean, y_sd = y[train].mean(), y[train].std()
X_train, X_test = (X[train] - x_mean) / x_sd, (X[test] - x_mean) / x_sd
y_train, y_test = (y[train] - y_mean) / y_sd, (y[test] - y_mean) / y_sd
print(f"{len(train)} training and {len(test)} test patients, {X.shape[1]} features")

# %% [markdown]
# ## The model
#
# One hidden layer of 20 `tanh` units. The output weights get prior scale `1 / sqrt(width)`
# so that the prior over functions does not grow with the width; the noise scale `sigma` is
# learned. The likelihood sits in a `ppl.plate` over the patients and indexes the data by the
# plate's indices: when a sampler asks for a minibatch (`batch_size=32` below), the plate
# draws 32 indices and scales the log-likelihood by `N / 32`, so every minibatch gradient is
# an unbiased estimate of the full-data gradient.

# %%
WIDTH = 20


def bnn(X, y=None):
    w1 = ppl.sample("w1", dist.Normal(0.0, 1.0).expand([X.shape[1], WIDTH]).to_event(2))
    b1 = ppl.sample("b1", dist.Normal(0.0, 1.0).expand([WIDTH]).to_event(1))
    w2 = ppl.sample("w2", dist.Normal(0.0, WIDTH**-0.5).expand([WIDTH]).to_event(1))
    b2 = ppl.sample("b2", dist.Normal(0.0, 1.0))
    sigma = ppl.sample("sigma", dist.HalfNormal(1.0))
    with ppl.plate("patients", X.shape[0]) as idx:
        hidden = ops.tanh(ops.matmul(X[idx], w1) + b1)
        mean = ops.matmul(hidden, w2) + b2
        ppl.sample("y", dist.Normal(mean, sigma), obs=None if y is None else y[idx])


dim = X.shape[1] * WIDTH + 2 * WIDTH + 2
print(f"{dim} parameters")

# %% [markdown]
# ## Four samplers and a variational baseline
#
# - `sgld`: Langevin dynamics, a gradient step plus Gaussian noise of matched size.
# - `psgld`: SGLD preconditioned by RMSprop, so each parameter gets its own step size.
# - `sghmc`: Hamiltonian dynamics with friction; momentum carries the chain further per step.
# - `structured_sgmcmc` with dropout: the layers form groups, and each step's gradient for one
#   group is taken with the other groups partly replaced by earlier states of the chain
#   (`dropout=0.5`), which breaks the strong coupling between layers that slows mixing.
# - `svi`: a mean-field Gaussian guide fitted by maximizing the ELBO (on all the data; it
#   stops once the ELBO stops improving).
#
# The step sizes are set by hand. `step_size="auto"` would find the MAP point and whiten by
# the Laplace approximation there, but a BNN's posterior is multimodal with flat directions
# (hidden units can swap or switch off), so that Laplace approximation is degenerate and the
# automatic start falls back to a slow variational fit; it also refuses models above 2,000
# parameters. A fixed step is the usual practice for neural networks; these were picked by
# trying powers of ten on short runs and keeping one below the largest that stays finite (a
# step that is too large stops the run with an error naming the site that ran away). We
# start from a prior draw (`init_strategy="prior"`), where the weights have the scale the
# prior gives them.

# %%
common = {"batch_size": 32, "init_strategy": "prior", **RUN}
methods = {
    "sgld": {"step_size": 1e-4, **common},
    "psgld": {"step_size": 1e-3, **common},
    "sghmc": {"step_size": 1e-5, "friction": 0.1, **common},
    "structured_sgmcmc": {
        "step_size": 1e-4,
        "groups": [["w1", "b1"], ["w2", "b2"]],  # sigma forms a third group by itself
        "dropout": 0.5,
        "num_masks": 2,
        **common,
    },
    "svi": {"guide": "normal", "init": "median", **SVI},
}
posteriors = {
    name: ppl.infer(
        bnn, name, args=(X_train,), kwargs={"y": y_train}, seed=0, progress=False, **options
    )
    for name, options in methods.items()
}
for name, post in posteriors.items():
    seconds = sum(post.timings.values())
    print(f"{name:>18}: {post.samples['w1'].shape[1]} draws in {seconds:.1f} s")
print(f"svi stopped after {posteriors['svi'].sample_stats['loss'].shape[-1]} steps")

# %% [markdown]
# ## Held-out predictions
#
# Each posterior draw `s` is a network `f_s` and a noise scale `sigma_s`; the predictive
# density of a test patient is the average over draws of `Normal(y | f_s(x), sigma_s)`. Its
# log, averaged over the test patients, is the held-out log predictive density (higher is
# better, in log units of the original target): it rewards both accurate means and honest
# uncertainty. The forward pass is a few lines of numpy on the draws.


# %%
def predictive(post, X_new):
    """The means ``(draws, n)`` and noise scales ``(draws, 1)`` of every posterior draw."""
    draws = {k: v.reshape((-1,) + v.shape[2:]) for k, v in post.samples.items()}
    hidden = np.tanh(np.einsum("nd,sdh->snh", X_new, draws["w1"]) + draws["b1"][:, None])
    mean = np.einsum("snh,sh->sn", hidden, draws["w2"]) + draws["b2"][:, None]
    return mean, draws["sigma"][:, None]


def heldout(post):
    mean, sigma = predictive(post, X_test)
    log_p = norm.logpdf(y_test, mean, sigma) - np.log(y_sd)  # in the target's original units
    lppd = logsumexp(log_p, axis=0) - np.log(len(mean))
    rmse = y_sd * np.sqrt(np.mean((mean.mean(0) - y_test) ** 2))
    pit = norm.cdf(y_test, mean, sigma).mean(0)  # predictive CDF at each test target
    return lppd, rmse, pit


results = {name: heldout(post) for name, post in posteriors.items()}
print("(log-lik per test patient +- its standard error; RMSE and sd in the target's units)")
print(f"{'method':>18}  {'held-out log-lik':>18}  {'RMSE':>6}  {'predictive sd':>13}")
for name, (lppd, rmse, _) in results.items():
    mean, sigma = predictive(posteriors[name], X_test)
    sd = y_sd * np.sqrt(mean.var(0) + np.mean(sigma**2, axis=0)).mean()
    se = lppd.std() / np.sqrt(len(lppd))
    print(f"{name:>18}  {lppd.mean():8.3f} +- {se:.3f}  {rmse:6.1f}  {sd:13.1f}")

# %% [markdown]
# For scale: the target's standard deviation is printed below; a model that predicted the
# training mean with that spread would score about `-log(sd) - 1/2 log(2 pi e)`.

# %%
baseline = -np.log(y_sd) - 0.5 * np.log(2 * np.pi * np.e)
print(f"target sd {y_sd:.1f}; constant-prediction baseline {baseline:.3f}")

fig, ax = plt.subplots(figsize=(6, 3.5))
names = list(results)
values = [results[n][0].mean() for n in names]
errors = [results[n][0].std() / np.sqrt(len(y_test)) for n in names]
ax.errorbar(values, names, xerr=errors, fmt="o", capsize=3, label="+- 1 standard error")
ax.axvline(baseline, color="k", ls="--", label="predict the mean")
ax.set(xlabel="held-out log predictive density per patient")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(f"{OUT}/heldout_loglik.png", dpi=100)

# %% [markdown]
# ## Calibration
#
# A predictive distribution is calibrated when its central `p` interval contains the truth a
# fraction `p` of the time. With the predictive CDF value `u` of each test target (its
# probability integral transform), the central `p` interval holds the target exactly when
# `|u - 1/2| <= p / 2`. Plotting the observed fraction against `p` gives a reliability curve:
# on the diagonal is calibrated, below it overconfident (intervals too narrow), above it
# underconfident.

# %%
levels = np.linspace(0.05, 0.95, 19)
fig, ax = plt.subplots(figsize=(4.5, 4.5))
ax.plot([0, 1], [0, 1], "k--", lw=1)
for name, (_, _, pit) in results.items():
    coverage = [(np.abs(pit - 0.5) <= p / 2).mean() for p in levels]
    ax.plot(levels, coverage, "o-", ms=3, label=name)
    inside = (np.abs(pit - 0.5) <= 0.45).mean()
    print(f"{name:>18}: the central 90% interval holds {inside:.0%} of the test targets")
ax.set(xlabel="nominal interval level", ylabel="fraction of test targets inside")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(f"{OUT}/calibration.png", dpi=100)

# %% [markdown]
# ## What to take away
#
# - Every SG-MCMC sampler touched 32 patients per step; on a large data set that is what makes
#   sampling a neural network affordable, and the same call scales by changing `batch_size`.
# - Compare the methods with the printed standard errors: on 100 test patients, differences
#   smaller than about two of them are noise. All should sit well above the constant
#   baseline. This data set is close to linear, so the network's flexibility buys little;
#   what the posterior buys is a predictive spread that matches the errors (the calibration
#   curve and the 90% intervals).
# - `ppl` warns that the weights have a tiny effective sample size. That is expected of a
#   BNN: its weights are not identifiable (hidden units can be permuted or flipped in sign),
#   and a chain explores one mode of many. The predictions, which are identifiable, are what
#   to check, and that is what the held-out metrics do.
# - SVI here is a mean-field Gaussian; it needs no step size, and its cost is the number of
#   optimization steps. The SG-MCMC samplers need a step size, but they target the posterior
#   itself rather than its best Gaussian approximation.
