"""log Z by the diffusion family (AIS, ULA, MCD, CMCD) on targets with a known normalizer.

Targets from ``ppl.models`` (all normalized, ``log Z = 0``): Neal's funnel (d=10), the
"challenging" 2-D mixture (six elongated modes), the 40-mode 2-D mixture (means uniform in
``[-40, 40]^2``) and the 8-mode ring mixture. Every method runs
with the same ``K``, the same ``q0`` initialisation per target, the same training budget for the
trained ones (``--num-steps`` steps of ``--batch-size`` paths on ``--loss``, by default the
reverse KL) and draws ``--eval-groups`` x ``--num-samples`` final paths: each group of
``--num-samples`` paths is one evaluation (its log-mean-exp of the log-weights is one estimate
of ``log Z``, like ``Posterior.log_z``), and the table shows the mean over the groups with the
standard error of that mean, the mean absolute error and the ESS per group. On the challenging
mixture, "mode err" is the largest difference between a mode's reweighted mass and its true
mass (quadrature, ``ppl.models.targets.challenging_mode_masses``). AIS trains nothing; it
adapts its step size for ``--ais-steps`` steps.
"train s" is the run's init + compile + training time, "total s" the wall time of the call.
torch runs on one thread (``torch.set_num_threads(1)``): on a shared 2-core machine torch's
intra-op threads otherwise spin against other processes and small ops slow down 10-100x.

Run: ``.venv/bin/python benchmarks/cmcd.py --backend numpyro`` (a Markdown table on stdout);
``--help`` lists the settings.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy.special import logsumexp

import ppl
from ppl.models import targets

METHODS = ("ais", "ula", "mcd", "cmcd")
NUMERIC = ("log_z", "stderr", "error", "ess", "mode_err", "train_s", "total_s")
#: per target: registry name, q0 initialisation (same for every method)
TARGETS = {
    "funnel": ("funnel", {"init_q0": "vi"}),
    "challenging": ("gmm_challenging_2d", {"init_q0": "prior"}),
    "gmm40": ("gmm_40_modes", {"init_q0": "prior"}),
    "ring": ("gmm_ring_2d", {"init_q0": "prior"}),
}


def run_one(target, method, K, backend, seed, args):
    name, target_options = TARGETS[target]
    spec = ppl.models.get(name)
    num_samples = args.num_samples * args.eval_groups
    options = dict(K=K, num_samples=num_samples, batch_size=args.batch_size, **target_options)
    options["num_steps"] = args.ais_steps if method == "ais" else args.num_steps
    if method != "ais":
        options.update(lr=args.lr, loss=args.loss)
    start = time.perf_counter()
    post = ppl.infer(
        spec.model,
        method,
        args=spec.args,
        kwargs=spec.kwargs,
        backend=backend,
        seed=seed,
        progress=False,
        **options,
    )
    total = time.perf_counter() - start
    t = post.timings
    train = t["init_seconds"] + t["compile_seconds"] + t["run_seconds"]
    w = post.diagnostics["log_weights"].reshape(args.eval_groups, args.num_samples)
    estimates = logsumexp(w, axis=1) - math.log(args.num_samples)
    ess = np.exp(2 * logsumexp(w, axis=1) - logsumexp(2 * w, axis=1))
    mode_err = math.nan
    if target == "challenging":
        x = post.raw_samples["x"].reshape(-1, 2)  # the draws as made, with their weights
        p = np.exp(post.diagnostics["log_weights"] - logsumexp(post.diagnostics["log_weights"]))
        masses = np.bincount(targets.challenging_mode(x), p, minlength=6)
        mode_err = float(np.abs(masses - targets.challenging_mode_masses()).max())
    return {
        "log_z": float(estimates.mean()),
        "stderr": float(estimates.std(ddof=1) / math.sqrt(len(estimates))),
        "error": float(np.abs(estimates - spec.log_z).mean()),
        "ess": float(ess.mean()),
        "mode_err": mode_err,
        "train_s": train,
        "total_s": total,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", nargs="+", default=["numpyro"])
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--K", nargs="+", type=int, default=[8, 32, 128])
    parser.add_argument("--num-steps", type=int, default=1000, help="training steps")
    parser.add_argument("--ais-steps", type=int, default=100, help="AIS step-size adaptation")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-samples", type=int, default=2000, help="paths per evaluation")
    parser.add_argument("--eval-groups", type=int, default=30, help="evaluations per run")
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--loss", default="kl", choices=["kl", "logvar"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    args = parser.parse_args(argv)
    if "pyro" in args.backend:
        import torch

        torch.set_num_threads(1)
    print(
        f"{len(args.seeds)} training seed(s) per row, {args.eval_groups} evaluations of "
        f"{args.num_samples} paths per run; the numbers are means over the training seeds, "
        "the times are per run.\n\n"
        "| target | K | method | backend | log Z ± se | abs error | ESS | mode err | train s "
        "| total s |\n|---|---|---|---|---|---|---|---|---|---|",
        flush=True,
    )
    for target in args.targets:
        for K in args.K:
            for backend in args.backend:
                for method in args.methods:
                    runs = [run_one(target, method, K, backend, s, args) for s in args.seeds]
                    r = {k: np.mean([run[k] for run in runs]) for k in runs[0] if k in NUMERIC}
                    print(
                        f"| {target} | {K} | {method} | {backend} | "
                        f"{r['log_z']:.3f} ± {r['stderr']:.3f} | {r['error']:.3f} | "
                        f"{r['ess']:.0f} | {r['mode_err']:.3f} | {r['train_s']:.1f} | "
                        f"{r['total_s']:.1f} |",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
