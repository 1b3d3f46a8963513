# %% [markdown]
# # 05 · Thompson sampling on a sparse linear bandit
#
# Why: in a contextual bandit an agent sees, each round, a feature vector for each of `K` arms,
# pulls one, and gets a noisy reward `x_arm · β + noise`. It must explore (learn `β`) and exploit
# (pull the arm that looks best) at once; *regret* is what it loses against an oracle that knows
# `β`. When `β` has 100 coordinates but only 5 matter, an agent that assumes sparsity needs far
# fewer rounds to learn it. Thompson sampling (TS) turns any Bayesian reward model into such an
# agent: each round, draw one `β` from the posterior and pull the arm that is best under it. With
# `ppl.decide.ThompsonSampling` the reward model is a `ppl` model and the posterior any
# registered algorithm, so a sparsity prior is one argument.
#
# We compare, on the setting of Chakraborty, Roy & Tewari (2023): TS with a spike-and-slab prior
# (posterior by `svi`), linear TS with a Gaussian prior (conjugate, exact), and LinUCB (an
# optimistic upper-confidence rule). `PPL_SMOKE=1` runs a tiny version (the tests do): its
# curves say nothing.

# %%
import os
import pathlib
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np

from ppl.decide import (
    LinearBandit,
    LinearTS,
    LinUCB,
    ThompsonSampling,
    linear_reward_model,
    regret_table,
    simulate,
)

BACKEND = os.environ.get("PPL_BACKEND", "numpyro")
SMOKE = os.environ.get("PPL_SMOKE") == "1"
OUT = pathlib.Path("out") / "05_thompson_sparse_bandit"
OUT.mkdir(parents=True, exist_ok=True)
FIGURES = ["regret.png", "coefficients.png"]

# p features, s of them non-zero, K arms, T rounds, R replications
P, S, K, T, R = (20, 3, 5, 16, 2) if SMOKE else (100, 5, 10, 200, 5)
UPDATE_EVERY = 8 if SMOKE else 10  # rounds between posterior updates

# %% [markdown]
# ## The environment
#
# Each round every arm gets features `x ~ Normal(0, Σ)` with correlated coordinates
# (equicorrelated, 0.3 off the diagonal); `β` has `S` non-zero entries, uniform on (0.3, 1) and
# scaled to unit length; the reward noise has sd 1, as large as the whole signal. Each
# replication draws a new `β` and new rounds; all agents of a replication see the same ones.


# %%
def environment(rep):
    return LinearBandit(
        K,
        P,
        sparsity=S,
        covariance="equicorrelated",
        rho=0.3,
        noise_scale=1.0,
        signal=(0.3, 1.0),
        signs=False,
        normalize=True,
        seed=1000 + rep,
    )


# %% [markdown]
# ## The agents
#
# The spike-and-slab reward model (`linear_reward_model(P, prior="spike_slab")`) gives each
# coefficient a relaxed on/off gate and a Laplace slab, with a Beta prior on the share of
# coefficients that are on. Its posterior has no closed form, so TS refits it with `svi` every
# `UPDATE_EVERY` rounds, warm-started at the previous posterior: a fixed, short budget of Adam
# steps from there (`init="median"`, no MAP search, no stopping rule), because an update that
# runs for seconds every round would make the agent useless in practice.

# %%
SVI = {
    "init": "median",
    "whiten": False,
    "num_steps": 50 if SMOKE else 500,
    "lr": 0.1,
    "num_particles": 4,
    "tol": 0,
    "num_samples": 100,
}


def agents(rep):
    model = linear_reward_model(P, prior="spike_slab", spike_slab={"temperature": 0.5})
    ts = ThompsonSampling(model, "svi", SVI, update_every=UPDATE_EVERY, backend=BACKEND, seed=rep)
    return {
        "TS spike-and-slab (svi)": ts,
        "LinUCB": LinUCB(K, alpha=1.0, seed=rep),
        "linear TS (Gaussian prior)": LinearTS(K, seed=rep),
    }


# %% [markdown]
# ## Playing
#
# `simulate(agent, env, T, seed)` plays `T` rounds and returns the per-round regret.

# %%
regret, seconds, last = {}, {}, {}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)  # short SVI budgets warn; that is the point
    for rep in range(R):
        env = environment(rep)
        for name, agent in agents(rep).items():
            start = time.perf_counter()
            regret.setdefault(name, []).append(simulate(agent, env, T, seed=rep))
            seconds.setdefault(name, []).append(time.perf_counter() - start)
            last[name] = agent
        totals = ", ".join(f"{n} {r[-1].sum():.1f}" for n, r in regret.items())
        print(f"replication {rep}, cumulative regret: {totals}")
results = {name: np.stack(runs) for name, runs in regret.items()}
print(regret_table(results, {name: float(np.mean(s)) for name, s in seconds.items()}))

# %% [markdown]
# ## Cumulative regret
#
# The mean over the replications, with a band of one standard error either side. Regret grows
# while an agent is still learning and flattens once it pulls the best arm; read the gap between
# curves against the bands (few replications give wide ones).

# %%
fig, ax = plt.subplots(figsize=(7, 4))
rounds = np.arange(1, T + 1)
for name, per_round in results.items():
    cumulative = np.cumsum(per_round, axis=1)  # (replications, rounds)
    mean, se = cumulative.mean(0), cumulative.std(0, ddof=1) / np.sqrt(len(cumulative))
    (line,) = ax.plot(rounds, mean, label=name)
    ax.fill_between(rounds, mean - se, mean + se, color=line.get_color(), alpha=0.2)
ax.set(xlabel="round", ylabel="cumulative regret", title=f"p={P}, s={S}, K={K}, {R} replications")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(OUT / "regret.png", dpi=90)
plt.show()

# %% [markdown]
# The agents saw the same rounds in each replication, so compare them pair by pair: the mean of
# the per-replication differences in cumulative regret and its standard error. A difference
# within about two standard errors of zero is no evidence either way; more replications
# (`R`) narrow it.

# %%
totals = {name: runs.sum(axis=1) for name, runs in results.items()}
sparse = totals["TS spike-and-slab (svi)"]
for other in ("LinUCB", "linear TS (Gaussian prior)"):
    diff = sparse - totals[other]
    se = diff.std(ddof=1) / np.sqrt(len(diff))
    print(f"TS spike-and-slab - {other}: {diff.mean():+.1f} ± {se:.1f} (paired, {len(diff)} reps)")

# %% [markdown]
# ## What the sparse posterior learned
#
# The last replication's final spike-and-slab posterior: the mean of each coefficient with a 90%
# interval, against the truth (crosses). The prior shrinks the coefficients that do not matter
# towards zero, so the few that do stand out once the data support them: that is how a sparse
# model can beat LinUCB and linear TS, which must learn all `P` coefficients.

# %%
ts_post = last["TS spike-and-slab (svi)"].posterior
beta = ts_post.samples["beta"].reshape(-1, P)
truth = environment(R - 1).beta
lo, hi = np.quantile(beta, [0.05, 0.95], axis=0)
fig, ax = plt.subplots(figsize=(8, 3.2))
idx = np.arange(P)
ax.vlines(idx, lo, hi, color="C0", alpha=0.6, label="posterior 90% interval")
ax.scatter(idx, beta.mean(axis=0), s=8, color="C0", label="posterior mean")
ax.scatter(idx, truth, s=14, marker="x", color="C3", label="true β")
ax.set(xlabel="coefficient", ylabel="value")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(OUT / "coefficients.png", dpi=90)
plt.show()
support, mean = np.flatnonzero(truth), beta.mean(axis=0)
print(f"true support {support.tolist()}: true β {np.round(truth[support], 2)}")
print(f"posterior mean there {np.round(mean[support], 2)}")
print(f"largest |posterior mean| off the support: {np.abs(np.delete(mean, support)).max():.3f}")
