"""SG-MCMC accuracy at small batch fractions (issue 25, item 3): three posteriordb regressions,
batches of 2%, 5% and 10% of the data, ``step_size="auto"`` and every other option at its
default except ``num_samples`` (4,000 draws, as in the issue's report).

Per run: the largest ``|mean - ref mean| / ref sd`` and ``|sd / ref sd - 1|`` over the
parameters (references: posteriordb's gold-standard draws, ``ppl.models``), the step size the
rule chose (in whitened coordinates; 0.1, the cap, where the MAP point's control variate was
taken), the smallest bulk ESS and the wall time.
The bar: means within 0.25 reference sd, sds within 35%.

Run: ``PYTHONPATH=$PWD .venv/bin/python benchmarks/sgmcmc_small_batch.py [--methods sgld ...]``
"""

from __future__ import annotations

import argparse
import time

import ppl

MODELS = ("kidiq-kidscore_momiq", "nes2000-nes", "earnings-logearn_height")
FRACTIONS = (0.02, 0.05, 0.10)


def one(name, method, fraction, backend, seed, draws):
    spec = ppl.models.get(name)
    n = spec.args[0].shape[0]
    batch = max(1, round(fraction * n))
    begin = time.perf_counter()
    post = ppl.infer(
        spec.model, method, args=spec.args, kwargs=spec.kwargs, backend=backend, seed=seed,
        progress=False, batch_size=batch, num_samples=draws,
    )  # fmt: skip
    seconds = time.perf_counter() - begin
    errors = spec.compare(post.samples)
    mean_err = max(e["mean_err"] for e in errors.values())
    sd_err = max(abs(e["sd_err"]) for e in errors.values())
    ess = float(post.summary()["ess_bulk"].min())
    step = float(post.sample_stats["step_size"][0, 0])
    ok = "yes" if mean_err < 0.25 and sd_err < 0.35 else "**no**"
    cells = [name, n, batch, method, f"{step:.3g}", f"{mean_err:.3f}", f"{sd_err:.3f}"]
    return "| " + " | ".join(map(str, [*cells, f"{ess:.0f}", f"{seconds:.0f}", ok])) + " |"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["sgld", "psgld", "sghmc", "sgnht"])
    parser.add_argument("--backend", default="numpyro")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--draws", type=int, default=4000)
    args = parser.parse_args()
    print(
        f"backend {args.backend}, seed {args.seed}, {args.draws} draws after the default warmup\n"
    )
    print("| posterior | N | batch | method | step | max mean err (sd) | max sd err | min ESS | "
          "seconds | within bar |")  # fmt: skip
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---|")
    for name in MODELS:
        for fraction in FRACTIONS:
            for method in args.methods:
                print(one(name, method, fraction, args.backend, args.seed, args.draws), flush=True)


if __name__ == "__main__":
    main()
