"""log Z by the diffusion family (AIS, ULA, MCD, CMCD) on three targets with a known normalizer.

Targets from ``ppl.models`` (all normalized, ``log Z = 0``): Neal's funnel (d=10), the 40-mode
2-D mixture (means uniform in ``[-40, 40]^2``) and the 8-mode ring mixture. Every method runs
with the same ``K``, the same ``q0`` initialisation per target, the same training budget for the
trained ones (``--num-steps`` steps of ``--batch-size`` paths on ``--loss``, by default the
reverse KL) and the same number of final paths (``--num-samples``), from which
``Posterior.log_z`` (log-mean-exp of the log-weights, with its delta-method standard error) and
the ESS of the weights are reported. AIS trains nothing; it adapts its step size for
``--ais-steps`` steps.
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

import ppl

METHODS = ("ais", "ula", "mcd", "cmcd")
NUMERIC = ("log_z", "stderr", "error", "ess", "train_s", "total_s")
#: per target: registry name, q0 initialisation (same for every method)
TARGETS = {
    "funnel": ("funnel", {"init_q0": "vi"}),
    "gmm40": ("gmm_40_modes", {"init_q0": "prior"}),
    "ring": ("gmm_ring_2d", {"init_q0": "prior"}),
}


def run_one(target, method, K, backend, seed, args):
    name, target_options = TARGETS[target]
    spec = ppl.models.get(name)
    options = dict(K=K, num_samples=args.num_samples, batch_size=args.batch_size, **target_options)
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
    estimate, stderr = post.log_z.estimate, post.log_z.stderr
    return {
        "target": target,
        "method": method,
        "K": K,
        "backend": backend,
        "log_z": estimate,
        "stderr": stderr,
        "error": abs(estimate - spec.log_z) if math.isfinite(estimate) else math.inf,
        "ess": post.diagnostics["ess"],
        "train_s": train,
        "total_s": total,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", nargs="+", default=["numpyro"])
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--K", nargs="+", type=int, default=[8, 32])
    parser.add_argument("--num-steps", type=int, default=1000, help="training steps")
    parser.add_argument("--ais-steps", type=int, default=100, help="AIS step-size adaptation")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-samples", type=int, default=2000)
    parser.add_argument("--lr", type=float, default=5e-3)
    parser.add_argument("--loss", default="kl", choices=["kl", "logvar"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    args = parser.parse_args(argv)
    if "pyro" in args.backend:
        import torch

        torch.set_num_threads(1)
    print(
        f"{len(args.seeds)} seed(s) per row; log Z and its standard error, the absolute error "
        "and the ESS are means over the seeds, the times are per run.\n\n"
        "| target | K | method | backend | log Z ± se | abs error | ESS | train s | total s |\n"
        "|---|---|---|---|---|---|---|---|---|",
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
                        f"{r['ess']:.0f} | {r['train_s']:.1f} | {r['total_s']:.1f} |",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
