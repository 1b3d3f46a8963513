"""The cost of one Thompson-sampling posterior update: a 4-arm Bernoulli bandit, ``svi`` with 200
steps from the warm start, an update every round.

    python benchmarks/thompson_update.py --backend numpyro --rounds 60
    OMP_NUM_THREADS=1 python benchmarks/thompson_update.py --backend pyro --rounds 30

Prints the first updates (which compile, on NumPyro), the median and the slowest of the warm
updates (after round 16, the first capacity of the padded history) and the last update's timings.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np

from ppl.decide import ThompsonSampling, bernoulli_reward_model

QUICK = {"num_steps": 200, "init": "median", "whiten": False, "tol": 0}
MEANS = np.array([0.2, 0.4, 0.5, 0.7])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numpyro")
    parser.add_argument("--rounds", type=int, default=60)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    ts = ThompsonSampling(bernoulli_reward_model(4), "svi", QUICK, backend=args.backend)
    rng = np.random.default_rng(0)
    for _ in range(args.rounds):
        arm = ts.act()
        ts.update(None, arm, float(rng.random() < MEANS[arm]))
    seconds = np.array(ts.update_seconds)
    warm = seconds[16:]
    print(
        f"{args.backend}: {len(seconds)} updates, first {seconds[:3].round(2)}, median warm "
        f"{np.median(warm):.3f} s, slowest warm {warm.max():.2f} s"
    )
    print({k: round(v, 4) for k, v in ts.posterior.timings.items()})


if __name__ == "__main__":
    main()
