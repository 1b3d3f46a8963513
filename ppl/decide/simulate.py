"""Running an agent on an environment, and the regret plot and table.

>>> from ppl.decide import BernoulliBandit, RandomAgent, simulate
>>> regret = simulate(RandomAgent(2, seed=0), BernoulliBandit([0.1, 0.9]), horizon=100, seed=0)
>>> regret.shape, sorted(set(regret.round(1).tolist()))
((100,), [0.0, 0.8])
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import OptionError

__all__ = ["plot_regret", "regret_table", "simulate"]


def simulate(agent, env, horizon: int, seed: int = 0) -> np.ndarray:
    """Play ``horizon`` rounds of ``agent`` on ``env`` (reset with ``seed``).

    Returns
    -------
    regret : (horizon,) array
        Per-round (pseudo-)regret: the best arm's expected reward minus the played arm's.
    """
    if horizon < 1:
        raise OptionError(f"horizon must be at least 1, got {horizon}.")
    env.reset(seed)
    regret = np.empty(horizon)
    for t in range(horizon):
        context = env.context()
        arm = agent.act(context)
        means = env.mean_rewards()
        regret[t] = means.max() - means[arm]
        agent.update(context, arm, env.reward(arm))
    return regret


def regret_table(results: Mapping[str, np.ndarray], seconds: Mapping[str, float] | None = None):
    """A markdown table of final cumulative regret per agent: the mean over replications and its
    standard error (sd with ``ddof=1`` over ``sqrt(replications)``; ``nan`` for one run).

    ``results[name]`` is ``(replications, horizon)`` per-round regret; ``seconds[name]``, when
    given, the mean wall time of one run.

    >>> import numpy as np
    >>> print(regret_table({"a": np.array([[1.0, 1.0], [2.0, 2.0]])}))
    | agent | cumulative regret (mean ± se) | replications |
    |---|---|---|
    | a | 3.0 ± 1.0 | 2 |
    """
    head = "| agent | cumulative regret (mean ± se) | replications |"
    rule = "|---|---|---|"
    if seconds:
        head, rule = head + " seconds per run |", rule + "---|"
    lines = [head, rule]
    for name, regret in results.items():
        total = np.asarray(regret).sum(axis=-1)
        se = total.std(ddof=1) / np.sqrt(len(total)) if len(total) > 1 else float("nan")
        row = f"| {name} | {total.mean():.1f} ± {se:.1f} | {len(total)} |"
        if seconds:
            row += f" {seconds.get(name, float('nan')):.1f} |"
        lines.append(row)
    return "\n".join(lines)


def plot_regret(results: Mapping[str, np.ndarray], path: str | None = None, title: str = ""):
    """Cumulative regret per agent: the mean over replications and a band of one standard error
    either side. ``results[name]`` is ``(replications, horizon)`` per-round regret. Writes a PNG
    to ``path`` when given and returns the figure. It leaves matplotlib's backend alone (a
    notebook keeps showing figures); matplotlib picks Agg itself where there is no display.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, regret in results.items():
        cumulative = np.cumsum(np.atleast_2d(regret), axis=-1)
        mean = cumulative.mean(axis=0)
        se = cumulative.std(axis=0) / np.sqrt(len(cumulative))
        rounds = np.arange(1, len(mean) + 1)
        (line,) = ax.plot(rounds, mean, label=name)
        ax.fill_between(rounds, mean - se, mean + se, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("round")
    ax.set_ylabel("cumulative regret")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    plt.close(fig)
    return fig
