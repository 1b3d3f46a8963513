"""Thompson sampling with a sparse prior on a sparse linear contextual bandit, against baselines.

The setting of issue 9, after Chakraborty, Roy & Tewari (2023), "Thompson sampling for
high-dimensional sparse linear contextual bandits" (ICML): ``K = 10`` arms, each with its own
``p = 100``-dimensional feature vector per round, drawn from ``Normal(0, Sigma)`` with an
equicorrelated ``Sigma``: 1 on the diagonal and ``rho^2 = 0.3`` off it (``--rho2``; the
off-diagonal correlation itself, which ``LinearBandit(rho=...)`` takes); one coefficient vector
with ``s = 5`` non-zero entries, uniform on (0.3, 1) (positive) and then normalised to unit
Euclidean norm; Gaussian reward noise of sd 1; horizon ``T = 200``; 10 replications. Each
replication draws a new coefficient vector and a new sequence of rounds; all agents of a
replication see the same contexts and noise.

Agents: Thompson sampling whose posterior is computed by ``ppl.infer`` (warm-started, every
``--update-every`` rounds, or with ``--schedule doubling`` after 1, 2, 4, ... times that many)
under the spike-and-slab prior (Laplace slab, Beta prior on the inclusion probability, ``svi``
with the relaxed-Bernoulli guide of ``ppl.decide.spike_slab``; optionally the horseshoe),
LinUCB, linear Thompson sampling with a Gaussian prior, epsilon-greedy, the Lasso bandit, and
random play.

Run (results accumulate in ``benchmarks/out/thompson.npz``; ``--report`` redraws the table and
plot from it)::

    python -m benchmarks.thompson --fresh
    python -m benchmarks.thompson --report
"""

from __future__ import annotations

import argparse
import os
import pathlib
import time
import warnings

os.environ.setdefault("OMP_NUM_THREADS", "1")  # torch intra-op threads spin on a shared box

import numpy as np  # noqa: E402

from ppl.decide import (  # noqa: E402
    EpsilonGreedy,
    LassoBandit,
    LinearBandit,
    LinearTS,
    LinUCB,
    RandomAgent,
    ThompsonSampling,
    linear_reward_model,
    plot_regret,
    regret_table,
    simulate,
)

OUT = pathlib.Path(__file__).parent / "out"

#: a fixed budget per posterior update: SVI from the warm start, no MAP search, no stop rule;
#: the run itself takes well under a second, the per-update cost is JAX's compilation.
SVI = {
    "init": "median",
    "whiten": False,
    "num_steps": 1000,
    "lr": 0.1,
    "num_particles": 4,
    "tol": 0,
    "num_samples": 100,
}
NUTS = {"num_warmup": 150, "num_samples": 100, "init_strategy": "uniform"}

#: Thompson-sampling agents: name -> (prior, posterior, options, backend, update_every factor)
TS_AGENTS = {
    "ts-horseshoe-svi": ("horseshoe", "svi", SVI, "numpyro", 1),
    "ts-spike-svi": ("spike_slab", "svi", SVI, "numpyro", 1),
    "ts-normal-svi": ("normal", "svi", SVI, "numpyro", 1),
    "ts-horseshoe-nuts": ("horseshoe", "nuts", NUTS, "numpyro", 2),
}


def baselines(num_arms: int, seed: int) -> dict:
    return {
        "LinUCB": LinUCB(num_arms, alpha=1.0, seed=seed),
        "linear TS (Gaussian prior)": LinearTS(num_arms, seed=seed),
        "epsilon-greedy (0.1)": EpsilonGreedy(num_arms, epsilon=0.1, seed=seed),
        "Lasso bandit": LassoBandit(num_arms, lam1=0.05, lam2=0.05, seed=seed),
        "random": RandomAgent(num_arms, seed=seed),
    }


#: the relaxed spike-and-slab's temperature (see ppl.decide.spike_slab)
SPIKE_SLAB = {"temperature": 0.5}


def make_ts(
    name: str, d: int, update_every: int, schedule: str, seed: int, svi_steps: int | None = None
) -> ThompsonSampling:
    prior, posterior, options, backend, factor = TS_AGENTS[name]
    if posterior == "svi" and svi_steps is not None:
        options = {**options, "num_steps": svi_steps}
    extra = {"spike_slab": SPIKE_SLAB} if prior == "spike_slab" else {}
    model = linear_reward_model(d, prior=prior, **extra)
    return ThompsonSampling(
        model,
        posterior,
        options,
        update_every=update_every * factor,
        schedule=schedule,
        backend=backend,
        seed=seed,
    )


def label(name: str, update_every: int, schedule: str, svi_steps: int | None = None) -> str:
    prior, posterior, _, backend, factor = TS_AGENTS[name]
    when = "after {0}, {1}, {2}, ... rounds" if schedule == "doubling" else "every {0} rounds"
    n = update_every * factor
    steps = f" {svi_steps} steps" if posterior == "svi" and svi_steps is not None else ""
    return f"TS {prior} ({posterior}{steps}, {backend}, update {when.format(n, 2 * n, 4 * n)})"


def paired_differences(results: dict, against: str = "LinUCB") -> list[str]:
    """``agent - against`` cumulative regret, paired by replication: mean and standard error."""
    if against not in results:
        return []
    base = results[against].sum(axis=1)
    lines = []
    for name, runs in results.items():
        if name.startswith("TS"):
            reps = min(len(runs), len(base))
            diff = runs[:reps].sum(axis=1) - base[:reps]
            err = diff.std(ddof=1) / np.sqrt(reps) if reps > 1 else float("nan")
            lines.append(f"{name} - {against}: {diff.mean():.1f} +- {err:.1f} ({reps} reps)")
    return lines


def load(path):
    if not path.exists():
        return {}, {}
    data = np.load(path, allow_pickle=True)
    return dict(data["regret"].item()), dict(data["seconds"].item())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--d", type=int, default=100)
    parser.add_argument("--s0", type=int, default=5)
    parser.add_argument("--arms", type=int, default=10)
    parser.add_argument("--horizon", type=int, default=200)
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--update-every", type=int, default=10)
    parser.add_argument("--schedule", choices=("every", "doubling"), default="every")
    parser.add_argument("--covariance", default="equicorrelated")
    parser.add_argument("--rho2", type=float, default=0.3, help="off-diagonal correlation")
    parser.add_argument("--agents", nargs="*", default=["baselines", "ts-spike-svi"])
    parser.add_argument("--plot", default=str(OUT / "thompson_regret.png"))
    parser.add_argument("--report", action="store_true", help="only redraw table and plot")
    parser.add_argument("--fresh", action="store_true", help="discard earlier results")
    parser.add_argument(
        "--svi-steps", type=int, help="SVI steps per warm-started update (default: 1000)"
    )
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    store = OUT / "thompson.npz"
    regret, seconds = ({}, {}) if args.fresh else load(store)
    warnings.simplefilter("ignore", UserWarning)

    if not args.report:
        for agent in args.agents:
            for rep in range(args.reps):
                env = LinearBandit(
                    args.arms,
                    args.d,
                    sparsity=args.s0,
                    covariance=args.covariance,
                    rho=args.rho2,
                    noise_scale=1.0,
                    signal=(0.3, 1.0),
                    signs=False,
                    normalize=True,
                    seed=1000 + rep,
                )
                if agent == "baselines":
                    todo = baselines(args.arms, rep)
                else:
                    todo = {
                        label(agent, args.update_every, args.schedule, args.svi_steps): make_ts(
                            agent, args.d, args.update_every, args.schedule, rep, args.svi_steps
                        )
                    }
                for name, policy in todo.items():
                    start = time.perf_counter()
                    r = simulate(policy, env, args.horizon, seed=rep)
                    elapsed = time.perf_counter() - start
                    runs = regret.setdefault(name, {})
                    runs[rep] = r
                    seconds.setdefault(name, {})[rep] = elapsed
                    print(
                        f"{name} rep {rep}: cumulative regret {r.sum():.1f} ({elapsed:.0f} s)",
                        flush=True,
                    )
                    np.savez(
                        store,
                        regret=np.array(regret, dtype=object),
                        seconds=np.array(seconds, dtype=object),
                    )

    results = {name: np.stack([runs[k] for k in sorted(runs)]) for name, runs in regret.items()}
    mean_seconds = {name: float(np.mean(list(s.values()))) for name, s in seconds.items()}
    order = sorted(results, key=lambda n: results[n].sum(axis=1).mean())
    results = {n: results[n] for n in order}
    table = regret_table(results, mean_seconds)
    title = f"p={args.d}, s={args.s0}, K={args.arms}, {args.covariance} contexts"
    plot_regret(results, args.plot, title=title)
    (OUT / "thompson.md").write_text(table + "\n")
    print(table)
    print("\n".join(paired_differences(results)))
    print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
