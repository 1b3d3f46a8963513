# %% [markdown]
# # Effect handlers: change what a model means without editing it
#
# A `ppl` model is a function that calls `ppl.sample`. An **effect handler** wraps the function
# and intercepts those calls: it can record them (`trace`), fix their values (`condition`,
# `substitute`, `replay`), cut a causal arrow (`do`), hide them (`block`), reweight their
# densities (`mask`, `scale`) or change their parameterization (`reparam`). Every inference
# algorithm is built from these; using them directly lets you inspect a model, ask it
# questions, and make it easier to sample, all without touching its source. The handlers mean
# the same on both backends: change `BACKEND` (or set `PPL_BACKEND=pyro`) and rerun.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

import ppl
from ppl import dist, handlers, ops
from ppl.inference.gradcheck import elbo_gradient, gradient_draws
from ppl.reparam import AcceptReject, LocScale

BACKEND = os.environ.get("PPL_BACKEND", "numpyro")
SMOKE = os.environ.get("PPL_SMOKE") == "1"
OUT = "out/02_effect_handlers"
FIGURES = ["condition_vs_do.png", "funnel.png", "gradient_variance.png"]
os.makedirs(OUT, exist_ok=True)
ppl.set_backend(BACKEND)
NUTS = {"num_warmup": 1000, "num_samples": 2000, "num_chains": 2}
if SMOKE:
    NUTS = {"num_warmup": 50, "num_samples": 50, "num_chains": 1}
GRAD_DRAWS = 1000 if SMOKE else 20_000
ALPHAS = [1.0, 5.0] if SMOKE else [0.5, 1.0, 2.0, 5.0, 10.0]

# %% [markdown]
# ## A model to ask questions of
#
# A toy causal story for each of `num_people` people: fitness drives both how much they
# exercise and their health, and exercise improves health a little on its own
# (`health = 2 fitness + 0.5 exercise + noise`). People who exercise are healthier partly
# *because they are fitter*: that confounding is what `condition` and `do` will tell apart.


# %%
def health_model(num_people):
    with ppl.plate("people", num_people):
        fitness = ppl.sample("fitness", dist.Normal(0.0, 1.0))
        exercise = ppl.sample("exercise", dist.Normal(fitness, 1.0))
        ppl.sample("health", dist.Normal(2.0 * fitness + 0.5 * exercise, 1.0))


# %% [markdown]
# ## `seed` and `trace`: run the model and record every site
#
# Sampling needs random keys; `seed` supplies them (same `rng_seed`, same draws). `trace`
# records each site as a `ppl.Site` with the same fields on both backends: its value, its
# distribution, whether it is observed, its plates, and its log density.

# %%
tr = handlers.trace(handlers.seed(health_model, rng_seed=0)).get_trace(5)
print(tr)
for name, site in tr.sample_sites().items():
    value = np.round(ops.to_numpy(site.value), 2)
    print(f"{name:>8}: observed={site.is_observed}, plates={site.plates}, value={value}")
print("log joint density of this draw:", float(tr.log_prob_sum()))

# %% [markdown]
# ## `condition`: what does seeing someone exercise tell us?
#
# `condition` turns sites into observations. We run the model for `N` people who all
# exercise 2 units. Their fitness and health are still drawn from the prior, and the trace
# holds `log p(exercise = 2 | fitness)` for each of them: exactly the importance weight that
# turns these prior draws into posterior draws. No inference algorithm is needed for this
# one-dimensional question.

# %%
N = 20_000
two = ops.asarray(np.full(N, 2.0))
seen = handlers.condition(health_model, data={"exercise": two})
tr_seen = handlers.trace(handlers.seed(seen, rng_seed=1)).get_trace(N)
log_w = ops.to_numpy(tr_seen["exercise"].log_prob())
weights = np.exp(log_w - log_w.max())
weights /= weights.sum()
fitness_seen = ops.to_numpy(tr_seen["fitness"].value)
health_seen = ops.to_numpy(tr_seen["health"].value)
print("is exercise observed?", tr_seen["exercise"].is_observed)
print(f"E[health | exercise=2] ~= {np.sum(weights * health_seen):.3f}")
print(f"effective sample size of the weights: {1 / np.sum(weights**2):.0f} of {N}")

# %% [markdown]
# The exact answer: prior and likelihood of fitness are both Normal with unit variance, so
# given `exercise = 2` fitness is `Normal(1, variance 1/2)`, and
# `E[health] = 2 * 1 + 0.5 * 2 = 3`; the estimate above should be close.
#
# ## `do`: what happens if we *make* someone exercise?
#
# An intervention is a different question. `do` sets the value the rest of the model sees,
# but does not observe it: fitness keeps its prior, and only the direct arrow
# exercise → health carries the change. So `E[health | do(exercise = 2)] = 0.5 * 2 = 1`.

# %%
forced = handlers.do(health_model, data={"exercise": two})
tr_do = handlers.trace(handlers.seed(forced, rng_seed=2)).get_trace(N)
health_do = ops.to_numpy(tr_do["health"].value)
print(f"E[health | do(exercise=2)] ~= {health_do.mean():.3f}")

tr_free = handlers.trace(handlers.seed(health_model, rng_seed=3)).get_trace(N)
x_free, y_free = (ops.to_numpy(tr_free[k].value) for k in ("exercise", "health"))
slope = np.polyfit(x_free, y_free, 1)[0]
three = ops.asarray(np.full(N, 3.0))
forced3 = handlers.do(health_model, data={"exercise": three})
tr_do3 = handlers.trace(handlers.seed(forced3, rng_seed=2)).get_trace(N)
effect = ops.to_numpy(tr_do3["health"].value).mean() - health_do.mean()
print(f"regression slope of health on exercise (observational): {slope:.3f}")
print(f"causal effect of one more unit of exercise (do(3) - do(2)): {effect:.3f}")

# %% [markdown]
# The observational slope mixes the causal effect with the confounding through fitness; the
# difference of two interventions recovers the effect in the model (0.5).
#
# ## `substitute`: evaluate the model at chosen values
#
# `substitute` plugs in values *without* marking them observed (an algorithm would still treat
# them as latent). Substituting a grid of fitness values into the conditioned model and
# reading the trace's log densities gives the unnormalized posterior of fitness on the grid;
# it should match the weighted draws from `condition` (left panel below). The right panel
# shows the two questions of the previous sections: seeing exercise 2 shifts health much more
# than making people exercise 2, because seeing it also tells us they are fit.

# %%
grid = np.linspace(-3.0, 4.0, 200)
seen_on_grid = handlers.condition(health_model, data={"exercise": ops.asarray(np.full(200, 2.0))})
at_grid = handlers.substitute(seen_on_grid, data={"fitness": ops.asarray(grid)})
tr_grid = handlers.trace(handlers.seed(at_grid, rng_seed=4)).get_trace(grid.size)
log_joint = ops.to_numpy(tr_grid["fitness"].log_prob() + tr_grid["exercise"].log_prob())
density = np.exp(log_joint - log_joint.max())
density /= density.sum() * (grid[1] - grid[0])
print("is fitness observed under substitute?", tr_grid["fitness"].is_observed)

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.5))
left.hist(fitness_seen, bins=60, weights=weights, density=True, alpha=0.5, label="condition")
left.plot(grid, density, "k", label="substitute (grid)")
left.set(xlabel="fitness", title="fitness given exercise = 2")
left.legend(fontsize=8)
bins = np.linspace(-8, 10, 80)
right.hist(y_free, bins=bins, density=True, alpha=0.4, label="no handler")
right.hist(health_seen, bins, weights=weights, density=True, alpha=0.4, label="condition(x=2)")
right.hist(health_do, bins=bins, density=True, alpha=0.4, label="do(x=2)")
right.set(xlabel="health", title="seeing is not doing")
right.legend(fontsize=8)
fig.tight_layout()
fig.savefig(f"{OUT}/condition_vs_do.png", dpi=100)

# %% [markdown]
# ## `replay` and `block`: the ELBO by hand
#
# Variational inference draws latent values from a guide `q`, then scores them under the model:
# `replay` runs the model with the guide's values. Here the guide is the exact posterior of
# fitness given `exercise = 2`, so `log p(fitness, exercise) - log q(fitness)` should equal the
# evidence `log p(exercise = 2) = log Normal(2; 0, sd sqrt 2)` for *every* draw. The guide has
# no `health` site; `block` hides it from the handlers outside, so the trace scores only what
# the guide proposes (health is drawn from its prior on both sides and cancels).


# %%
def guide(num_people):
    with ppl.plate("people", num_people):
        ppl.sample("fitness", dist.Normal(1.0, 0.5**0.5))


tr_q = handlers.trace(handlers.seed(guide, rng_seed=5)).get_trace(N)
no_health = handlers.block(handlers.seed(seen, rng_seed=6), hide=["health"])
scored = handlers.replay(no_health, trace=tr_q)
tr_p = handlers.trace(scored).get_trace(N)
print("sites the outer trace sees:", list(tr_p.sample_sites()))
elbo_terms = ops.to_numpy(
    tr_p["fitness"].log_prob() + tr_p["exercise"].log_prob() - tr_q["fitness"].log_prob()
)
exact = -0.5 * np.log(2 * np.pi * 2.0) - 2.0**2 / (2 * 2.0)
print(f"log p - log q: mean {elbo_terms.mean():.5f}, sd {elbo_terms.std():.1e}; exact {exact:.5f}")

# %% [markdown]
# ## `mask` and `scale`: reweight the log density
#
# `mask` drops sites' log densities where it is false, without changing array shapes (missing
# values, held-out folds). `scale` multiplies them: the log density of a random minibatch of
# `B` of `n` people, scaled by `n / B`, is an unbiased estimate of the log density of all of
# them. That is how `ppl.plate(..., subsample_size=B)` and the stochastic-gradient samplers of
# tutorial 03 work. Below, `n = 1000` simulated people, 30% of whose exercise values are
# missing.

# %%
n = 1000
tr_data = handlers.trace(handlers.seed(health_model, rng_seed=7)).get_trace(n)
data = {k: tr_data[k].value for k in ("fitness", "exercise", "health")}
recorded = np.random.default_rng(0).random(n) < 0.7  # 30% of exercise values are missing


def exercise_only(site):
    return site.name == "exercise"


masked = handlers.mask(handlers.condition(health_model, data=data), mask=ops.asarray(recorded))
lp_masked = float(handlers.trace(masked).get_trace(n).log_prob_sum(exercise_only))
lp_each = ops.to_numpy(tr_data["exercise"].log_prob())
print(f"masked log-lik {lp_masked:.3f} = sum over recorded people {lp_each[recorded].sum():.3f}")


def log_joint_of(people):
    """log p of the people at positions ``people``, scaled by n / len(people)."""
    batch = {k: v[ops.asarray(people)] for k, v in data.items()}
    scaled = handlers.scale(handlers.condition(health_model, data=batch), scale=n / len(people))
    return float(handlers.trace(scaled).get_trace(len(people)).log_prob_sum())


full = log_joint_of(np.arange(n))
rng = np.random.default_rng(1)
estimates = [log_joint_of(rng.choice(n, 50, replace=False)) for _ in range(20 if SMOKE else 500)]
se = np.std(estimates) / np.sqrt(len(estimates))
print(f"full log joint {full:.1f}")
print(f"mean of {len(estimates)} scaled minibatches of 50: {np.mean(estimates):.1f} +- {se:.1f}")

# %% [markdown]
# ## `reparam` with `LocScale`: the funnel
#
# Neal's funnel, `v ~ Normal(0, 3)`, `x_i ~ Normal(0, exp(v / 2))`, is the shape of every
# hierarchical model with a scale parameter. Its neck (small `v`) needs tiny steps and its
# mouth large ones, so NUTS with one step size diverges in the neck and never goes there.
# `LocScale(centered=0.0)` rewrites `x = exp(v / 2) * x_decentered` with
# `x_decentered ~ Normal(0, 1)`: the same model, but the sampler now sees independent
# Gaussians. The model's source does not change, and the draws still hold `x` (recorded as a
# deterministic site) next to `x_decentered`.


# %%
def funnel():
    v = ppl.sample("v", dist.Normal(0.0, 3.0))
    ppl.sample("x", dist.Normal(0.0, ops.exp(v / 2.0)).expand([9]).to_event(1))


noncentered = handlers.reparam(funnel, config={"x": LocScale(centered=0.0)})
fits = {
    name: ppl.infer(model, "nuts", progress=False, seed=0, **NUTS)
    for name, model in [("centred", funnel), ("LocScale", noncentered)]
}
for name, post in fits.items():
    diverging = np.asarray(post.sample_stats["diverging"])
    v = post.samples["v"]
    print(
        f"{name:>9}: {int(diverging.sum())} divergences in {diverging.size} draws; "
        f"sd(v) {v.std():.2f} (exact 3), smallest v {v.min():.1f}"
    )

fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True)
for ax, (name, post) in zip(axes, fits.items(), strict=True):
    x0, v = post.samples["x"][..., 0].ravel(), post.samples["v"].ravel()
    bad = np.asarray(post.sample_stats["diverging"]).ravel()
    ax.scatter(x0, v, s=3, alpha=0.3, label="draws")
    ax.scatter(x0[bad], v[bad], s=12, c="red", label="divergent")
    ax.set(xlabel="x[0]", title=name, xlim=(-20, 20))
    ax.legend(fontsize=8)
axes[0].set_ylabel("v")
fig.tight_layout()
fig.savefig(f"{OUT}/funnel.png", dpi=100)

# %% [markdown]
# Read the printout and the figure: the centred chains stop short of the neck (their smallest
# `v` is far above the LocScale one, and their `sd(v)` falls short of 3), the divergent
# transitions mark where they get stuck, and `ppl` warns about their R-hat or effective
# sample size. After `LocScale` the divergences are gone and the draws reach deep into the
# neck.

# %% [markdown]
# ## `reparam` with `AcceptReject`: low-variance gradients for a Gamma guide
#
# SVI follows the gradient of the ELBO. A Normal guide site is reparameterized
# (`z = mu + sigma * eps`), which gives low-variance gradients. A Gamma site is drawn by
# rejection sampling, which has no such formula; the fallback, the score function
# (REINFORCE), works for any distribution but is noisy. `AcceptReject` (Naesseth et al.
# 2017) differentiates through the accepted proposal of the Gamma sampler and adds a small
# correction for the accept step; `boost=B` lowers the variance at small shapes. It adds
# auxiliary sites to the guide:


# %%
def gamma_guide():
    ppl.sample("rate", dist.Gamma(0.5, 2.0))


boosted = handlers.reparam(gamma_guide, config={"rate": AcceptReject(boost=1)})
print(list(handlers.trace(handlers.seed(boosted, rng_seed=0)).get_trace().sample_sites()))

# %% [markdown]
# The test bed is the Gamma-Poisson model (`rate ~ Gamma(1, 1)`, ten Poisson counts) with the
# guide `Gamma(alpha, beta)`, whose ELBO gradient is known in closed form.
# `ppl.inference.gradcheck.gradient_draws` runs the backend's own ELBO on many copies of the
# model at once and returns one single-draw gradient estimate per copy; we compare the
# variance of `d loss / d alpha` across estimators and shapes `alpha` (with `beta = alpha / 3`).

# %%
counts = np.random.default_rng(0).poisson(3.0, size=10).astype(float)
estimators = {
    "score function": "score",
    "AcceptReject(boost=0)": AcceptReject(boost=0),
    "AcceptReject(boost=1)": AcceptReject(boost=1),
}
variance = {name: [] for name in estimators}
for alpha in ALPHAS:
    exact_grad = elbo_gradient(alpha, alpha / 3, counts)[0]
    for name, estimator in estimators.items():
        if name == "AcceptReject(boost=0)" and alpha <= 2 / 3:
            variance[name].append(np.nan)  # infinite variance below 2/3 without a boost
            continue
        draws = gradient_draws(estimator, alpha, alpha / 3, counts, GRAD_DRAWS, seed=1)[:, 0]
        variance[name].append(draws.var())
        se = draws.std() / np.sqrt(len(draws))
        print(
            f"alpha {alpha:>4}: {name:<22} mean {draws.mean():8.3f} +- {se:6.3f} "
            f"(exact {exact_grad:8.3f}), variance {draws.var():9.3g}"
        )

fig, ax = plt.subplots(figsize=(5, 3.5))
for name, values in variance.items():
    ax.loglog(ALPHAS, values, "o-", label=name)
ax.set(xlabel="guide shape alpha", ylabel="variance of d loss / d alpha", title="one-draw gradient")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(f"{OUT}/gradient_variance.png", dpi=100)
ratio = np.array(variance["score function"]) / np.array(variance["AcceptReject(boost=1)"])
print("variance of the score function / AcceptReject(boost=1):")
print(", ".join(f"{r:.0f}x at alpha {a}" for a, r in zip(ALPHAS, ratio, strict=True)))

# %% [markdown]
# All three are unbiased: their means agree with the exact gradient to within a few of their
# standard errors. But the accept-reject gradient's variance is far smaller, and more so the
# larger the shape; `boost=1` matters at small shapes, where `boost=0` is noisy (and below
# `alpha = 2/3` has infinite variance). Lower variance is what lets SVI take larger steps. In
# `ppl.infer(..., "svi", guide=my_guide, estimator={"rate": "accept_reject"})` the same
# reparameterization is applied for you.
#
# ## What we used
#
# | handler | what it does |
# |---|---|
# | `seed`, `trace` | random keys; record every site |
# | `condition` | observe sites (their log density becomes a likelihood) |
# | `do` | intervene: set a value, cut the arrows into it |
# | `substitute` | set values without observing them |
# | `replay` | rerun with the values of another trace (a guide's) |
# | `block` | hide sites from the handlers outside |
# | `mask`, `scale` | drop or reweight log densities |
# | `reparam` | change a site's parameterization (`LocScale`, `AcceptReject`, ...) |
