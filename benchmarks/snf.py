"""Stochastic normalizing flows (``snf``) against the plain flow (``realnvp``), same settings.

Double well (the paper's setting, Wu, Köhler & Noé 2020): ``E(x) = x1^4 - 6 x1^2 - 0.5 x1 +
x2^2 / 2``, 3 RealNVP blocks with 64x64 MLPs, for ``snf`` 20 random-walk Metropolis steps
after each block, with the default learned step sizes (from 0.05; ``snf-fixed``: the paper's
fixed 0.25, ``--step-size``); Adam 5e-3, batch 128; ``--ml-steps`` steps of maximum likelihood on
data, then ``--mixed-steps`` steps of KL + ML (Adam is invariant to the paper's 0.5 / 0.5
weighting). The data (``--data``): ``exact``, the paper's (10,000 exact draws,
``energies.double_well_draws``), or ``wells``, local Metropolis chains started in each well with
the same number of draws in each, ``--num-data // 2`` (so the well populations are wrong by
``e^1.69`` and only the reweighting can fix them). ``--energy-only`` rows train on the KL alone
for ``ml-steps + mixed-steps`` steps.

Each run draws ``--repeats`` x ``--num-samples`` paths with their importance weights. Reported:
the reweighted free-energy difference between the wells, ``F_right - F_left = -log(sum_{x1>0}
w / sum_{x1<0} w)`` from all of them, against the truth by quadrature
(``energies.free_energy_difference``); and the paper's figure of merit, the error of the
reweighted free-energy profile along ``x1`` (``profile_error``): per repeat, ``-log`` of the
weighted histogram of ``x1`` on the paper's window ``(-2.25, 2.25)`` (27 bins), keeping the bins
that no repeat left empty, each repeat shifted to mean zero over them; ``sd`` = the bins' sd
over the repeats, averaged; ``bias`` = |mean over the bins of (true - mean profile)|, both
shifted to their minimum, the truth being each bin's ``-log P`` by quadrature; the error is
``sqrt(bias^2 + sd^2)`` (the paper reports 1.15 kT for RealNVP, 0.63 for its SNF).

Rezende-Mohamed U1-U4 (``--targets u1 ...``): energy-only training; ``KL(q||p)`` estimated as
``log Z - mean(log w)`` with the exact ``log Z`` by quadrature (for ``snf`` this is the KL
between the path measures, an upper bound on the marginal KL), and the ESS of the weights.

The flows run with ``warm_start=False`` (the base ``N(0, I)`` in the problem's coordinates, as
in the paper) unless ``--warm-start``.

torch runs on one thread (``torch.set_num_threads(1)``); see ``benchmarks/cmcd.py``.
Run: ``.venv/bin/python benchmarks/snf.py --backend numpyro`` (Markdown on stdout).
"""

from __future__ import annotations

import argparse
import functools
import time

import numpy as np

import ppl
from ppl.models import energies

METHODS = ("realnvp", "snf-fixed", "snf")
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


def common(variant, args):
    """``(method, options)`` of a row: ``realnvp``, ``snf`` (its defaults: each stochastic
    block's step size trained with the flow, from 0.05, as in the paper's adaptive-MC
    notebook) or ``snf-fixed`` (``learn_step_size=False``: the paper's fixed steps of size
    ``--step-size``)."""
    method = "realnvp" if variant == "realnvp" else "snf"
    options = dict(
        warm_start=args.warm_start,
        num_blocks=3,
        hidden=(64, 64),
        lr=args.lr,
        batch_size=args.batch_size,
        num_samples=args.num_samples,
    )
    if variant == "snf":
        options.update(mc_steps=args.mc_steps)
    elif variant == "snf-fixed":
        options.update(mc_steps=args.mc_steps, step_size=args.step_size, learn_step_size=False)
    return method, options


PROFILE_EDGES = np.linspace(-2.25, 2.25, 28)  # the paper's window, bins of width 1/6


@functools.cache
def _true_profile() -> np.ndarray:
    """``-log P(x1 in bin)`` of each bin, by quadrature (what a histogram estimates)."""
    fine = np.linspace(PROFILE_EDGES[0], PROFILE_EDGES[-1], 27 * 200 + 1)
    mids = (fine[1:] + fine[:-1]) / 2
    log_p = -energies.free_energy_profile(mids).reshape(len(PROFILE_EDGES) - 1, -1)
    return -np.logaddexp.reduce(log_p, axis=1)


def profile_curves(x, log_w, repeats: int):
    """``-log`` of the weighted histogram of ``x1`` per repeat, ``(repeats, 27)`` (inf where a
    repeat left a bin empty); ``None`` if a log-weight is NaN or infinite."""
    log_w = np.asarray(log_w, dtype=float)
    if not np.isfinite(log_w).all():
        return None
    curves = []
    for xs, lw in zip(np.array_split(x, repeats), np.array_split(log_w, repeats)):
        counts, _ = np.histogram(xs[:, 0], PROFILE_EDGES, weights=np.exp(lw - lw.max()))
        with np.errstate(divide="ignore"):
            curves.append(-np.log(counts))
    return np.array(curves)


def profile_error(curves, kept=None) -> tuple[float, float, float, int]:
    """The paper's error of the reweighted free-energy profile along ``x1`` (module docstring)
    from ``profile_curves``: ``(sqrt(bias^2 + sd^2), bias, sd, bins)`` over the bins ``kept``
    (default: those no repeat left empty, as in the paper; ``bins``: how many, of 27).
    ``curves=None`` (a bad weight) gives an infinite error."""
    if curves is None:
        return np.inf, np.inf, np.inf, 0
    if kept is None:
        kept = np.isfinite(curves).all(axis=0)
    if not kept.any():
        return np.inf, np.inf, np.inf, 0
    curves = curves[:, kept] - curves[:, kept].mean(axis=1, keepdims=True)
    mean, truth = curves.mean(axis=0), _true_profile()[kept]
    bias = abs(np.mean((truth - truth.min()) - (mean - mean.min())))
    sd = curves.std(axis=0).mean()
    return float(np.hypot(bias, sd)), float(bias), float(sd), int(kept.sum())


def run_double_well(variant, backend, seed, data, energy_only, args):
    spec = ppl.models.get("double_well")
    method, options = common(variant, args)
    options.update(num_samples=args.repeats * args.num_samples)
    steps = args.ml_steps + args.mixed_steps
    if energy_only:
        options.update(num_steps=steps)
    else:
        options.update(num_steps=steps, data=data, ml_steps=args.ml_steps)
    start = time.perf_counter()
    post = ppl.infer(spec.model, method, backend=backend, seed=seed, progress=False, **options)
    x = np.asarray(post.raw_samples["x"][0])  # the draws as made, with log_w
    log_w = np.asarray(post.diagnostics["log_weights"])
    curves = profile_curves(x, log_w, args.repeats)
    error, bias, sd, bins = profile_error(curves)
    return {
        "df_weighted": energies.reweighted_free_energy_difference(x, log_w),
        "df_raw": energies.reweighted_free_energy_difference(x),
        "profile": error,
        "bias": bias,
        "sd": sd,
        "bins": bins,
        "curves": curves,
        "ess": post.diagnostics["ess"] / args.repeats,
        "seconds": time.perf_counter() - start,
    }


def run_energy(target, variant, backend, seed, args):
    spec = ppl.models.get(U_TARGETS[target])
    method, options = common(variant, args)
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


def _on_common_bins(these, those):
    """The profile errors of two rows' runs, seed by seed, on the bins both runs kept (so a
    row that empties the barrier's bins is not scored on an easier set)."""
    pairs = []
    for a, b in zip(these, those):
        if a is None or b is None:
            pairs.append((np.inf, np.inf))
            continue
        kept = np.isfinite(a).all(axis=0) & np.isfinite(b).all(axis=0)
        pairs.append((profile_error(a, kept)[0], profile_error(b, kept)[0]))
    return np.array(pairs).T


def double_well_rows(backend, data, energy_only, truth, args):
    """Print the table's rows of one backend and training mode; return the lines comparing
    each SNF variant with ``realnvp``, paired by seed."""
    mode = "energy only" if energy_only else "ML, then ML + KL"
    results = {}
    for variant in args.methods:
        rows = [
            run_double_well(variant, backend, s, data, energy_only, args) for s in range(args.runs)
        ]
        df = np.array([r["df_weighted"] for r in rows])
        results[variant] = {"df_error": np.abs(df - truth), "curves": [r["curves"] for r in rows]}
        err = results[variant]["df_error"]
        prof = np.array([[r[k] for k in ("profile", "bias", "sd", "bins")] for r in rows])
        results[variant]["profile"] = prof[:, 0]
        print(
            f"| {mode} | {variant} | {backend} | {df.mean():.2f} ± {df.std():.2f} | "
            f"{err.mean():.3f} ± {err.std():.3f} | "
            f"{np.mean([r['df_raw'] for r in rows]):.2f} | "
            f"{prof[:, 0].mean():.2f} ± {prof[:, 0].std():.2f} "
            f"({prof[:, 1].mean():.2f}, {prof[:, 2].mean():.2f}; "
            f"{prof[:, 3].min():.0f}-{prof[:, 3].max():.0f}) | "
            f"{np.mean([r['ess'] for r in rows]):.0f} | "
            f"{np.mean([r['seconds'] for r in rows]):.1f} |",
            flush=True,
        )
    lines = []
    if "realnvp" not in results or args.runs < 2:
        return lines
    for variant in [v for v in results if v != "realnvp"]:
        results[variant]["common bins"], results["realnvp"]["common bins"] = _on_common_bins(
            results[variant]["curves"], results["realnvp"]["curves"]
        )
        parts = []
        for what in ("df_error", "profile", "common bins"):
            gap = results[variant][what] - results["realnvp"][what]
            if not np.isfinite(gap).all():
                parts.append(f"{what}: not finite in some run")
                continue
            se = gap.std(ddof=1) / np.sqrt(len(gap))
            parts.append(
                f"{what} {gap.mean():+.3f} ± {se:.3f} (lower in {int((gap < 0).sum())} of "
                f"{len(gap)})"
            )
        lines.append(f"{mode}, {backend}: {variant} - realnvp, paired by seed: " + "; ".join(parts))
    return lines


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
    parser.add_argument(
        "--num-samples", type=int, default=100000, help="draws (per repeat on the double well)"
    )
    parser.add_argument("--repeats", type=int, default=20, help="double well: profile repeats")
    parser.add_argument("--data", choices=("exact", "wells"), default="exact")
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--mc-steps", type=int, default=20)
    parser.add_argument("--step-size", type=float, default=0.25, help="snf-fixed's steps")
    parser.add_argument(
        "--warm-start",
        action="store_true",
        help="run the flows in the Laplace coordinates of the MAP (ppl's default); without it "
        "the base is N(0, I), the paper's",
    )
    parser.add_argument(
        "--num-data", type=int, default=10000, help="double well: data draws (wells: half each)"
    )
    args = parser.parse_args(argv)
    if "pyro" in args.backend:
        import torch

        torch.set_num_threads(1)
    seeds = range(args.runs)
    if "double_well" in args.targets:
        truth = energies.free_energy_difference()
        if args.data == "exact":
            data = energies.double_well_draws(args.num_data)
        else:
            data = well_data(args.num_data // 2)
        print(
            f"Double well: true F_right - F_left = {truth:.3f} kT; data {args.data} "
            f"({len(data)} draws); {args.runs} runs per row (mean ± sd over runs); ESS per "
            f"{args.num_samples} draws.\n\n"
            "| training | method | backend | dF reweighted | abs error | dF unweighted | "
            "profile error (bias, sd; bins) | ESS | s per run |\n"
            "|---|---|---|---|---|---|---|---|---|",
            flush=True,
        )
        paired = []
        for energy_only in [False] + ([True] if args.energy_only else []):
            for backend in args.backend:
                paired += double_well_rows(backend, data, energy_only, truth, args)
        print("".join(f"\n{line}\n" for line in paired), flush=True)
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
