# %% [markdown]
# # 04 · Multimodal targets and the normalizing constant
#
# Why: MCMC gives draws but not the normalizing constant `Z` of a density, and it can sit in one
# mode of a multimodal target for the whole run. `log Z` is what compares models (for a model,
# `Z = p(data)`, the evidence), and it is what free energies in physics are. Importance-weighted
# samplers give both: each draw comes with a weight `w = p̃(x) / q(x)` against the known
# density `q` it was drawn from, the mean weight estimates `Z`, and the weights correct the draws
# for what `q` got wrong.
#
# `ppl` has six such algorithms, all registered by name:
#
# - diffusions, which move draws from a simple start `q0` to the target along `K` annealing
#   steps: `ais` (annealed importance sampling with MALA moves, nothing trained), `ula`
#   (unadjusted Langevin, its step sizes and schedule trained), `mcd` (Monte Carlo diffusion:
#   a trained network for the backward path) and `cmcd` (controlled Monte Carlo diffusion: a
#   trained network that pushes the forward path);
# - flows, which train an invertible network: `realnvp`, and `snf` (a stochastic normalizing
#   flow: RealNVP blocks with Metropolis steps between them).
#
# We run all six on three targets whose `log Z` is known: Neal's funnel (10 dimensions, a narrow
# neck and a wide mouth), a 2-D mixture with six elongated modes, and the 2-D double well of
# molecular physics. `PPL_SMOKE=1` runs with tiny settings on the double well alone (the tests
# do): its estimates are poor, only the full run's numbers mean anything.

# %%
import os
import pathlib
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

import ppl
from ppl.errors import UntrustedResultWarning
from ppl.models import energies, targets

BACKEND = os.environ.get("PPL_BACKEND", "numpyro")
SMOKE = os.environ.get("PPL_SMOKE") == "1"
OUT = pathlib.Path("out") / "04_multimodal_and_log_z"
OUT.mkdir(parents=True, exist_ok=True)
FIGURES = ["log_z.png", "draws.png", "cost.png"]

METHODS = ["ais", "ula", "mcd", "cmcd", "realnvp", "snf"]
TARGETS = ["funnel", "gmm_challenging_2d", "double_well"]
if SMOKE:  # one target: each (target, method) pair compiles its own program
    TARGETS = ["double_well"]
    common = {"num_samples": 200, "batch_size": 16, "num_steps": 10}
    DIFFUSION = {**common, "K": 4, "vi_steps": 10}
    FLOW = {**common, "num_blocks": 2, "hidden": (8, 8), "vi_steps": 10}
else:
    common = {"num_samples": 4000}
    DIFFUSION = {**common, "K": 16, "num_steps": 1000, "batch_size": 64}
    FLOW = {**common, "num_steps": 1000, "batch_size": 128}


def options(method, target):
    """The options of one run: the same budget for every method of a family."""
    if method in ("realnvp", "snf"):
        return dict(FLOW, **({"mc_steps": 2} if SMOKE and method == "snf" else {}))
    opts = dict(DIFFUSION)
    if method == "ais":  # AIS trains nothing: its steps adapt the step size
        opts["num_steps"] = 10 if SMOKE else 100
    # the start q0 of a diffusion: a Gaussian fitted by VI for the funnel, the target's broad
    # "carrier" (its prior) for the 2-D targets, whose modes a unimodal VI fit would miss
    opts["init_q0"] = "vi" if target == "funnel" else "prior"
    return opts


# %% [markdown]
# ## Running the six algorithms
#
# A ready model of `ppl.models` carries its true `log Z` (`spec.log_z`: 0 for the funnel and the
# mixture, which are normalized; the double well's by quadrature). Every run returns a
# `Posterior` whose `log_z` is an estimate with its standard error, and whose
# `diagnostics["ess"]` is the effective sample size of the importance weights: near
# `num_samples` when `q` matches the target, near 1 when one draw carries all the weight.
# `post.samples` are the draws resampled by their weights, so they follow the target.

# %%
results = {}
for target in TARGETS:
    spec = ppl.models.get(target)
    for method in METHODS:
        start = time.perf_counter()
        with warnings.catch_warnings():  # a low ESS warns; here it is part of what we measure
            warnings.simplefilter("ignore", UntrustedResultWarning)
            post = ppl.infer(
                spec.model,
                method,
                args=spec.args,
                kwargs=spec.kwargs,
                backend=BACKEND,
                progress=False,
                **options(method, target),
            )
        results[target, method] = {
            "post": post,
            "seconds": time.perf_counter() - start,
            "error": post.log_z.estimate - spec.log_z,
        }
        r = results[target, method]
        print(
            f"{target:<19} {method:<8} log Z - truth = {r['error']:+.3f} ± {post.log_z.stderr:.3f}"
            f"   ESS {post.diagnostics['ess']:7.1f} of {np.size(post.diagnostics['log_weights'])}"
            f"   {r['seconds']:6.1f} s"
        )

# %% [markdown]
# ## log Z against the truth
#
# Each bar is the estimate minus the true `log Z`, with two standard errors. An estimate from
# importance weights is biased low at a finite number of draws (the log of a mean underestimates
# on average), so a bar below zero whose error bar does not reach zero says the proposal missed
# part of the mass: the funnel's neck, or a mode.

# %%
fig, axes = plt.subplots(1, len(TARGETS), figsize=(4 * len(TARGETS), 3.2), squeeze=False)
for ax, target in zip(axes[0], TARGETS):
    errs = [results[target, m]["error"] for m in METHODS]
    ses = [2 * results[target, m]["post"].log_z.stderr for m in METHODS]
    ax.bar(METHODS, errs, yerr=ses, color="C0", capsize=3)
    ax.axhline(0.0, color="k", lw=0.8)
    ax.set_title(target)
    ax.tick_params(axis="x", rotation=45)
axes[0, 0].set_ylabel("log Z estimate − truth")
fig.tight_layout()
fig.savefig(OUT / "log_z.png", dpi=90)
plt.show()

# %% [markdown]
# ## Draws over the density
#
# The resampled draws (points) over the target's density (contours): for the funnel, its first
# two coordinates `(v, x[0])`. Resampling can only reweight draws that exist: a mode (or the
# funnel's neck) with no draws is missing from the picture and from `log Z` alike.


# %%
def funnel_log_density(v, x0):
    return -0.5 * (v / 3.0) ** 2 - 0.5 * x0**2 * np.exp(-v) - 0.5 * v


def mixture_log_density(x1, x2):
    points = np.stack([x1, x2], axis=-1)
    parts = []
    for a in (points, points[..., ::-1]):  # the three components and their mirror images
        for loc, cov in zip(targets.CHALLENGING_LOCS, targets.CHALLENGING_COVS):
            parts.append(multivariate_normal(loc, cov).logpdf(a))
    return logsumexp(np.stack(parts), axis=0)


def well_log_density(x1, x2):
    return -energies.double_well_energy(np.stack([x1, x2], axis=-1))


GRIDS = {
    "funnel": (funnel_log_density, (-9, 9), (-20, 20), ("v", "x[0]")),
    "gmm_challenging_2d": (mixture_log_density, (-5, 6), (-5, 6), ("x[0]", "x[1]")),
    "double_well": (well_log_density, (-3, 3), (-4, 4), ("x[0]", "x[1]")),
}


def draws_2d(post, target, n=500):
    if target == "funnel":
        return post.samples["v"].reshape(-1)[:n], post.samples["x"].reshape(-1, 9)[:n, 0]
    x = post.samples["x"].reshape(-1, 2)[:n]
    return x[:, 0], x[:, 1]


fig, axes = plt.subplots(
    len(TARGETS), len(METHODS), figsize=(2.6 * len(METHODS), 2.5 * len(TARGETS)), squeeze=False
)
for row, target in zip(axes, TARGETS):
    log_density, xlim, ylim, labels = GRIDS[target]
    a, b = np.meshgrid(np.linspace(*xlim, 150), np.linspace(*ylim, 150))
    density = np.exp(log_density(a, b))
    for ax, method in zip(row, METHODS):
        ax.contour(a, b, density, levels=8, cmap="Greys", linewidths=0.7)
        ax.scatter(*draws_2d(results[target, method]["post"], target), s=2, alpha=0.4)
        ax.set(xlim=xlim, ylim=ylim, xticks=[], yticks=[])
        ax.set_title(f"{method}", fontsize=9)
    row[0].set_ylabel(f"{target}\n{labels[1]} against {labels[0]}", fontsize=8)
fig.tight_layout()
fig.savefig(OUT / "draws.png", dpi=80)
plt.show()

# %% [markdown]
# The double well puts a number on this. Its left well holds a share `P(left)` of the mass (by
# quadrature of the exact density, below). A method whose draws all sit in the right well can at
# best estimate `log Z + log(1 − P(left))`: compare that offset with the bars above, and the
# share of each method's draws in the left well with `P(left)`.

# %%
if "double_well" in TARGETS:
    p_left = 1.0 / (1.0 + np.exp(-energies.free_energy_difference()))
    print(f"P(left well) = {p_left:.3f}; log(1 - P(left)) = {np.log1p(-p_left):+.3f}")
    for method in METHODS:
        x = results["double_well", method]["post"].samples["x"].reshape(-1, 2)
        share = np.mean(x[:, 0] < 0)
        error = results["double_well", method]["error"]
        print(f"{method:<8} share of draws in the left well {share:.3f}, log Z error {error:+.3f}")

# %% [markdown]
# ## What each costs
#
# Wall time of each call (compilation, the warm start, training and drawing) against the
# absolute error of `log Z`. AIS trains nothing; the trained diffusions and the flows pay for
# their networks; on NumPyro much of a short call is compilation, which a second call of the
# same model and method skips. The cheapest method that reaches the accuracy you need is the
# one to use. On a new target, run two and compare their `log Z`: agreement within the standard
# errors is evidence, disagreement says at least one missed mass.

# %%
fig, ax = plt.subplots(figsize=(7.5, 4))
for i, method in enumerate(METHODS):
    for t, marker in zip(TARGETS, "os^"):
        r = results[t, method]
        ax.scatter(r["seconds"], abs(r["error"]), color=f"C{i}", marker=marker)
    ax.scatter([], [], color=f"C{i}", label=method)
for t, marker in zip(TARGETS, "os^"):
    ax.scatter([], [], color="grey", marker=marker, label=t)
ax.set(xlabel="seconds per call", ylabel="|log Z error|")
ax.set_ylim(bottom=0)
ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
fig.tight_layout()
fig.savefig(OUT / "cost.png", dpi=90)
plt.show()

for target in TARGETS:
    best = min(METHODS, key=lambda m: abs(results[target, m]["error"]))
    print(f"{target}: smallest |log Z error| by {best} ({results[target, best]['error']:+.3f})")
