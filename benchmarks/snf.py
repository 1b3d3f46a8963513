"""Stochastic normalizing flows (``snf``) against the plain flow (``realnvp``), same settings.

Double well (the paper's setting, Wu, Köhler & Noé 2020): ``E(x) = x1^4 - 6 x1^2 - 0.5 x1 +
x2^2 / 2``, 3 RealNVP blocks with 64x64 MLPs, for ``snf`` 20 random-walk Metropolis steps of
size 0.25 after each block; Adam 5e-3, batch 128; ``--ml-steps`` steps of maximum likelihood on
data, then ``--mixed-steps`` steps of KL + ML. The data are the paper's kind: local Metropolis
chains started in each well, the same number of draws in each (so the data's well populations
are wrong, and only the reweighting can fix them). Reported: the reweighted free-energy
difference between the wells, ``F_right - F_left = -log(sum_{x1>0} w / sum_{x1<0} w)`` from
``--num-samples`` draws with their importance weights, against the truth by quadrature
(``ppl.models.energies.free_energy_difference``); the absolute error is averaged over the
runs. ``--energy-only`` rows train on the KL alone for ``ml-steps + mixed-steps`` steps.

Rezende-Mohamed U1-U4 (``--targets u1 ...``): energy-only training; ``KL(q||p)`` estimated as
``log Z - mean(log w)`` with the exact ``log Z`` by quadrature (for ``snf`` this is the KL
between the path measures, an upper bound on the marginal KL), and the ESS of the weights.

torch runs on one thread (``torch.set_num_threads(1)``); see ``benchmarks/cmcd.py``.
Run: ``.venv/bin/python benchmarks/snf.py --backend numpyro`` (Markdown on stdout).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import ppl
from ppl.models import energies

METHODS = ("realnvp", "snf")
U_TARGETS = {"u1": "rezende_u1", "u2": "rezende_u2", "u3": "rezende_u3", "u4": "rezende_u4"}


def well_data(per_well: int, seed: int = 0) -> np.ndarray:
    """Random-walk Metropolis (noise 0.2, every 10th step after 200) from ``(-2, 0)`` and
    ``(2, 0)``: ``per_well`` draws from each well, as numpy."""
    rng = np.random.default_rng(seed)
    chains, keep_every, burn = 100, 10, 200
    steps = burn + keep_every * -(-per_well // chains)
    draws = []
    for start in (-2.0, 2.0):
        x = np.tile([start, 0.0], (chains, 1))
        e = energies.double_well_energy(x)
        kept = []
        for t in range(steps):
            proposal = x + 0.2 * rng.normal(size=x.shape)
            e_p = energies.double_well_energy(proposal)
            accept = np.log(rng.uniform(size=chains)) < e - e_p
            x, e = np.where(accept[:, None], proposal, x), np.where(accept, e_p, e)
            if t >= burn and (t - burn) % keep_every == 0:
                kept.append(x.copy())
        draws.append(np.concatenate(kept)[:per_well])
    return np.concatenate(draws)


def common(method, args):
    options = dict(
        num_blocks=3,
        hidden=(64, 64),
        lr=args.lr,
        batch_size=args.batch_size,
        num_samples=args.num_samples,
    )
    if method == "snf":
        options.update(mc_steps=args.mc_steps, step_size=args.step_size)
    return options


def run_double_well(method, backend, seed, data, energy_only, args):
    spec = ppl.models.get("double_well")
    options = common(method, args)
    steps = args.ml_steps + args.mixed_steps
    if energy_only:
        options.update(num_steps=steps)
    else:
        options.update(num_steps=steps, data=data, ml_steps=args.ml_steps)
    start = time.perf_counter()
    post = ppl.infer(spec.model, method, backend=backend, seed=seed, progress=False, **options)
    x = post.samples["x"][0]
    log_w = post.diagnostics["log_weights"]
    return {
        "df_weighted": energies.reweighted_free_energy_difference(x, log_w),
        "df_raw": energies.reweighted_free_energy_difference(x),
        "ess": post.diagnostics["ess"],
        "seconds": time.perf_counter() - start,
    }


def run_energy(target, method, backend, seed, args):
    spec = ppl.models.get(U_TARGETS[target])
    options = common(method, args)
    options.update(num_steps=args.u_steps)
    start = time.perf_counter()
    post = ppl.infer(spec.model, method, backend=backend, seed=seed, progress=False, **options)
    log_w = post.diagnostics["log_weights"]
    return {
        "kl": spec.log_z - float(np.mean(log_w)),
        "log_z_error": post.log_z.estimate - spec.log_z,
        "ess": post.diagnostics["ess"],
        "seconds": time.perf_counter() - start,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", nargs="+", default=["numpyro"])
    parser.add_argument("--targets", nargs="+", default=["double_well"])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--ml-steps", type=int, default=300)
    parser.add_argument("--mixed-steps", type=int, default=300)
    parser.add_argument("--energy-only", action="store_true", help="double well: also KL only")
    parser.add_argument("--u-steps", type=int, default=600, help="U1-U4 training steps")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--num-samples", type=int, default=10000)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--mc-steps", type=int, default=20)
    parser.add_argument("--step-size", type=float, default=0.25)
    parser.add_argument("--per-well", type=int, default=10000)
    args = parser.parse_args(argv)
    if "pyro" in args.backend:
        import torch

        torch.set_num_threads(1)
    seeds = range(args.runs)
    if "double_well" in args.targets:
        truth = energies.free_energy_difference()
        data = well_data(args.per_well)
        print(
            f"Double well: true F_right - F_left = {truth:.3f} kT; {args.runs} runs per row "
            "(mean ± sd over runs).\n\n"
            "| training | method | backend | dF reweighted | abs error | dF unweighted | ESS | "
            "s per run |\n|---|---|---|---|---|---|---|---|",
            flush=True,
        )
        for energy_only in [False] + ([True] if args.energy_only else []):
            mode = "energy only" if energy_only else "ML, then ML + KL"
            for backend in args.backend:
                for method in args.methods:
                    rows = [
                        run_double_well(method, backend, s, data, energy_only, args) for s in seeds
                    ]
                    df = np.array([r["df_weighted"] for r in rows])
                    err = np.abs(df - truth)
                    raw = np.array([r["df_raw"] for r in rows])
                    print(
                        f"| {mode} | {method} | {backend} | {df.mean():.2f} ± {df.std():.2f} | "
                        f"{err.mean():.2f} ± {err.std():.2f} | {raw.mean():.2f} | "
                        f"{np.mean([r['ess'] for r in rows]):.0f} | "
                        f"{np.mean([r['seconds'] for r in rows]):.1f} |",
                        flush=True,
                    )
    targets = [t for t in args.targets if t in U_TARGETS]
    if targets:
        print(
            f"\nRezende-Mohamed energies, KL only, {args.u_steps} steps; {args.runs} runs per row."
            "\n\n| target | method | backend | KL(q‖p) | log Z error | ESS | s per run |\n"
            "|---|---|---|---|---|---|---|",
            flush=True,
        )
        for target in targets:
            for backend in args.backend:
                for method in args.methods:
                    rows = [run_energy(target, method, backend, s, args) for s in seeds]
                    r = {k: np.mean([row[k] for row in rows]) for k in rows[0]}
                    sd = np.std([row["kl"] for row in rows])
                    print(
                        f"| {target} | {method} | {backend} | {r['kl']:.3f} ± {sd:.3f} | "
                        f"{r['log_z_error']:+.3f} | {r['ess']:.0f} | {r['seconds']:.1f} |",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
