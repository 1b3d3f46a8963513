# %% [markdown]
# # 08 · Discrete latent variables: enumeration and Gibbs
#
# Why: mixtures, hidden Markov models and change points have discrete unknowns (which
# component, which state, which year), and gradient-based samplers move only continuous ones.
# `ppl` has two ways to handle a discrete site, the same on both backends:
#
# - **enumeration**: mark the site `infer={"enumerate": "parallel"}` and the backend sums it out
#   exactly (NumPyro's `enum` with funsor, Pyro's `TraceEnum` contraction), so every continuous
#   algorithm (`nuts`, `svi`, ...) sees the marginal; `ppl.markov` tells it that a chain's
#   states depend only on the previous one, so an HMM costs time linear in its length. The
#   posterior then draws the enumerated sites given each continuous draw, so `post.samples`
#   holds them too;
# - **Gibbs**: `ppl.infer(model, "gibbs")` keeps the discrete sites in the chain and updates
#   each from its exact conditional (Metropolis for large supports), and the continuous sites by
#   HMC. It needs no marker and works where enumeration cannot (an unbounded or huge joint
#   support), at the price of slower mixing.
#
# We fit a Gaussian mixture both ways, an HMM by enumeration, and a change-point model by Gibbs,
# and check each discrete posterior against its exact answer. `PPL_SMOKE=1` runs with tiny
# settings (the tests do), so its numbers are rough.

# %%
import os
import pathlib
import time

import matplotlib.pyplot as plt
import numpy as np
from scipy.special import logsumexp
from scipy.stats import norm

import ppl
from ppl import dist
from ppl.models import discrete, hmm, mixture

BACKEND = os.environ.get("PPL_BACKEND", "numpyro")
SMOKE = os.environ.get("PPL_SMOKE") == "1"
OUT = pathlib.Path("out") / "08_discrete_latents"
OUT.mkdir(parents=True, exist_ok=True)
FIGURES = ["mixture.png", "hmm_states.png", "change_point.png"]

RUN = (
    {"num_warmup": 10, "num_samples": 20, "progress": False}
    if SMOKE
    else {"num_warmup": 500, "num_samples": 1000, "progress": False}
)
#: the HMM runs on Pyro (see its section), whose NUTS steps and state draws cost more
RUN_HMM = RUN if SMOKE else {"num_warmup": 300, "num_samples": 300, "progress": False}
SMALL = (lambda y: y[:16]) if SMOKE else (lambda y: y)  # shorter data in smoke mode


def timed(*args, **kwargs):
    """``ppl.infer`` and its wall time."""
    begin = time.perf_counter()
    post = ppl.infer(*args, backend=BACKEND, seed=0, **kwargs)
    return post, time.perf_counter() - begin


# %% [markdown]
# ## A mixture, enumerated and by Gibbs
#
# `ppl.models.mixture.gaussian_mixture_enum` gives each point an assignment `z[i] ~
# Categorical(weights)` marked for enumeration. For Gibbs we write the same model without the
# marker. Both fits should agree on the components, and the assignments' posterior
# probabilities (the share of draws with `z[i] = k`) should match the exact responsibilities
# `p(z[i] = k | y, weights, locs, scales)` averaged over the continuous draws.

# %%
y_mix = SMALL(mixture.mixture_data())


def mixture_for_gibbs(y, K=3):
    """``gaussian_mixture_enum`` without the enumeration marker: ``gibbs`` samples ``z``."""
    weights = ppl.sample("weights", dist.Dirichlet(ppl.ops.ones(K)))
    locs = ppl.sample("locs", dist.Normal(0.0, 10.0).expand([K]).to_event(1))
    scales = ppl.sample("scales", dist.HalfNormal(2.0).expand([K]).to_event(1))
    with ppl.plate("data", y.shape[0]):
        z = ppl.sample("z", dist.Categorical(weights))
        ppl.sample("y", dist.Normal(locs[z], scales[z]), obs=y)


init = {"locs": np.array([-4.0, 0.0, 5.0])}  # one labelling of the components for both fits
enumerated, t_enum = timed(mixture.gaussian_mixture_enum, "nuts", args=(y_mix,),
                           init_values=init, **RUN)  # fmt: skip
gibbs, t_gibbs = timed(mixture_for_gibbs, "gibbs", args=(y_mix,), init_values=init, **RUN)


def responsibilities(post, y):
    """Exact ``p(z[i] = k | y, continuous draw)``, averaged over the draws: ``(N, K)``."""
    w, m, s = (np.asarray(post.samples[n]).reshape(-1, 3) for n in ("weights", "locs", "scales"))
    log_p = np.log(w)[:, None, :] + norm.logpdf(y[None, :, None], m[:, None, :], s[:, None, :])
    return np.exp(log_p - logsumexp(log_p, axis=-1, keepdims=True)).mean(axis=0)


for name, post, seconds in (("nuts, enumerated", enumerated, t_enum),
                            ("gibbs", gibbs, t_gibbs)):  # fmt: skip
    z = np.asarray(post.samples["z"]).reshape(-1, len(y_mix))
    share = np.stack([(z == k).mean(axis=0) for k in range(3)], axis=-1)
    tv = 0.5 * np.abs(share - responsibilities(post, y_mix)).sum(axis=-1).max()
    locs = np.asarray(post.samples["locs"]).reshape(-1, 3).mean(axis=0)
    print(f"{name:17s} locs {np.round(locs, 2)}  largest TV of z[i] {tv:.3f}  {seconds:.1f} s")

# %% [markdown]
# The assignment draws match the exact responsibilities to within the Monte Carlo error of
# their number of draws, on both fits. Enumeration is the better tool where it applies: NUTS
# moves on a smooth marginal, while Gibbs alternates between assignments and components.

# %%
fig, ax = plt.subplots(figsize=(7, 3.5))
grid = np.linspace(y_mix.min() - 1, y_mix.max() + 1, 400)
ax.hist(y_mix, bins=40, density=True, color="0.85", label="data")
for name, post, style in (("nuts, enumerated", enumerated, "-"), ("gibbs", gibbs, "--")):
    w, m, s = (np.asarray(post.samples[n]).reshape(-1, 3).mean(axis=0)
               for n in ("weights", "locs", "scales"))  # fmt: skip
    ax.plot(grid, (w * norm.pdf(grid[:, None], m, s)).sum(axis=1), style, label=name)
z_mode = np.asarray(enumerated.samples["z"]).reshape(-1, len(y_mix))
z_mode = np.stack([(z_mode == k).mean(axis=0) for k in range(3)]).argmax(axis=0)
ax.scatter(y_mix, np.full_like(y_mix, -0.01), c=z_mode, cmap="viridis", s=8,
           label="most probable component")  # fmt: skip
ax.set(xlabel="y", ylabel="density", title="Gaussian mixture: posterior mean density")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(OUT / "mixture.png", dpi=90)
plt.show()

# %% [markdown]
# ## A hidden Markov model, enumerated
#
# `ppl.models.hmm.gaussian_hmm` has three states that either stay or move on to the next
# (cyclic transitions), Gaussian emissions, and one state per time step inside `ppl.markov`.
# NUTS samples the stay probabilities, the emission means and the scale on the marginal (the
# forward algorithm, run by the backend); the posterior then draws the states given each
# draw. The check: the share of draws in state `k` at time `t` against the forward-backward
# smoothing probabilities, averaged over the same continuous draws.
#
# Both backends draw the states exactly: Pyro by its `infer_discrete`, one posterior draw at a
# time; NumPyro by forward filtering, backward sampling over the chain that `ppl.markov`
# declares (its own `infer_discrete` would contract the 3^60 joint states at once). We keep the
# first 60 observations, so that Pyro's draws stay quick too.
#
# One more thing to know about HMMs: with cyclic transitions, relabelling the states by a
# rotation (0 -> 1 -> 2 -> 0) gives exactly the same likelihood, so the posterior has three
# modes that only the prior on `locs` tells apart (the true one is e^15 times more probable
# here). A chain started in the wrong one stays there. As for the mixture, we start it at the
# prior's means.

# %%
y_hmm, x_true = hmm.hmm_data()
y_hmm = y_hmm[:16] if SMOKE else y_hmm[:60]
T = len(y_hmm)
begin = time.perf_counter()
hmm_post = ppl.infer(
    hmm.gaussian_hmm,
    "nuts",
    args=(y_hmm,),
    seed=0,
    init_values={"locs": np.array([-2.5, 0.0, 2.5])},
    **RUN_HMM,
)
t_hmm = time.perf_counter() - begin


def smoothing(stay, locs, scale, y):
    """Forward-backward ``p(x_t = k | y, parameters)``: ``(T, K)``."""
    trans = hmm.hmm_transition(stay)
    log_e = norm.logpdf(y[:, None], locs[None, :], scale)
    K = len(locs)
    alpha, beta = np.empty((len(y), K)), np.zeros((len(y), K))
    alpha[0] = np.log(1.0 / K) + log_e[0]
    for t in range(1, len(y)):
        alpha[t] = logsumexp(alpha[t - 1][:, None] + np.log(trans + 1e-300), axis=0) + log_e[t]
    for t in range(len(y) - 2, -1, -1):
        beta[t] = logsumexp(np.log(trans + 1e-300) + (log_e[t + 1] + beta[t + 1])[None], axis=1)
    log_p = alpha + beta
    return np.exp(log_p - logsumexp(log_p, axis=1, keepdims=True))


draws = {n: np.asarray(hmm_post.samples[n]).reshape(-1, *np.shape(hmm_post.samples[n])[2:])
         for n in ("stay", "locs", "scale")}  # fmt: skip
exact = np.mean(
    [smoothing(st, lo, sc, y_hmm) for st, lo, sc in zip(draws["stay"], draws["locs"],
                                                         draws["scale"])], axis=0,
)  # fmt: skip
states = np.stack([np.asarray(hmm_post.samples[f"x_{t}"]).reshape(-1) for t in range(T)])
share = np.stack([(states == k).mean(axis=1) for k in range(3)], axis=-1)
tv = 0.5 * np.abs(share - exact).sum(axis=1)
print(
    f"HMM, nuts with enumeration: {t_hmm:.1f} s; TV of p(x_t | y) largest {tv.max():.3f},"
    f" mean {tv.mean():.3f}; states recovered {np.mean(share.argmax(1) == x_true[:T]):.0%}"
)

# %%
fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 4.5), sharex=True)
top.plot(y_hmm, ".", color="0.3", ms=4)
top.set(ylabel="y", title="HMM: data and posterior state probabilities")
colors = ["tab:blue", "tab:orange", "tab:green"]
bottom.stackplot(np.arange(T), share.T, colors=colors, alpha=0.8)
for k in range(3):
    bottom.plot(np.cumsum(exact, axis=1)[:, k], "k:", lw=0.8)
true_colors = [colors[k] for k in x_true[:T]]
bottom.scatter(np.arange(T), np.full(T, 1.04), c=true_colors, marker="s", s=10, label="true state")
bottom.set(xlabel="t", ylabel="p(x_t = k | y)", ylim=(0, 1.08))
bottom.legend(fontsize=8, loc="upper right")
fig.tight_layout()
fig.savefig(OUT / "hmm_states.png", dpi=90)
plt.show()

# %% [markdown]
# The dotted lines (forward-backward) lie on the edges of the coloured bands (the draws).
#
# ## A change point, by Gibbs
#
# `ppl.models.discrete.change_point`: yearly counts whose rate changes once, at an unknown
# year `tau` uniform over `0..T`. Here `gibbs` draws `tau` from its exact conditional given the
# two rates, and the rates by HMC given `tau`. With conjugate Gamma priors the posterior of
# `tau` is known exactly (`change_point_posterior`).

# %%
counts = discrete.change_point_data()
cp_post, t_cp = timed(discrete.change_point, "gibbs", args=(counts,), **RUN)
exact_tau = discrete.change_point_posterior(counts)["tau"]
tau = np.asarray(cp_post.samples["tau"]).reshape(-1)
drawn = np.bincount(tau, minlength=len(exact_tau)) / len(tau)
tv_tau = 0.5 * np.abs(drawn - exact_tau).sum()
print(f"change point, gibbs: {t_cp:.1f} s; TV of p(tau | y) {tv_tau:.3f}")

# %%
fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
left.bar(np.arange(len(counts)), counts, color="0.7")
left.set(xlabel="year", ylabel="count", title="Counts")
years = np.arange(len(exact_tau))
right.bar(years, drawn, color="tab:blue", alpha=0.6, label="gibbs draws")
right.plot(years, exact_tau, "k.-", ms=3, label="exact")
right.set(xlabel="tau", ylabel="p(tau | counts)", title="Posterior of the change point")
right.legend(fontsize=8)
fig.tight_layout()
fig.savefig(OUT / "change_point.png", dpi=90)
plt.show()

# %% [markdown]
# ## What to take away
#
# - Mark a discrete site `infer={"enumerate": "parallel"}` (and wrap a chain in `ppl.markov`)
#   when its support is small: every continuous algorithm then runs on the exact marginal, and
#   `post.samples` still holds the discrete sites.
# - Use `"gibbs"` when enumeration cannot apply: no marker is needed, and each discrete site is
#   drawn from its conditional.
# - A discrete site with neither is refused with a message that names it and both fixes.
