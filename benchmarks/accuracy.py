"""Accuracy on the six posteriordb posteriors shipped in ``ppl.models``, both backends.

For each posterior, backend and method: the largest over parameters of |mean − ref mean| / ref sd
and of |sd / ref sd − 1| against posteriordb's gold-standard draws. Methods: ``nuts``, ``svi``
with ``normal`` and ``mvn`` guides at their DEFAULT options, and beside them the backends' own SVI
defaults (the same guide started at the prior median with scale 0.1, Adam(0.01) at a constant
rate, no whitening) run for ``--native-steps`` steps.

    python benchmarks/accuracy.py                      # the run recorded in RESULTS.md
    python benchmarks/accuracy.py --posteriors sblrc-blr --backends numpyro --methods nuts
"""

from __future__ import annotations

import argparse
import json
import time

import ppl

POSTERIORS = (
    "eight_schools-eight_schools_noncentered",
    "kidiq-kidscore_momiq",
    "sblrc-blr",
    "earnings-logearn_height",
    "arK-arK",
    "low_dim_gauss_mix-low_dim_gauss_mix",
)
NATIVE_DEFAULTS = {"init": "median", "whiten": False, "lr_decay": 1.0, "lr": 0.01}


def methods(native_steps: int) -> dict[str, tuple[str, dict]]:
    return {
        "nuts": ("nuts", {"num_chains": 2}),
        "svi normal": ("svi", {"guide": "normal"}),
        "svi mvn": ("svi", {"guide": "mvn"}),
        "native svi normal": (
            "svi",
            {"guide": "normal", "num_steps": native_steps, **NATIVE_DEFAULTS},
        ),
        "native svi mvn": ("svi", {"guide": "mvn", "num_steps": native_steps, **NATIVE_DEFAULTS}),
    }


def evaluate(name, backend, method, options, seed=0):
    spec = ppl.models.get(name)
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
    seconds = time.perf_counter() - start
    errors = spec.compare(post.samples)
    return {
        "mean_err": max(e["mean_err"] for e in errors.values()),
        "sd_err": max(abs(e["sd_err"]) for e in errors.values()),
        "seconds": seconds,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posteriors", default=",".join(POSTERIORS))
    parser.add_argument("--backends", default="numpyro,pyro")
    parser.add_argument(
        "--methods", default="nuts,svi normal,svi mvn,native svi normal,native svi mvn"
    )
    parser.add_argument("--native-steps", type=int, default=5000)
    parser.add_argument("--json", help="also write the rows to this file")
    a = parser.parse_args(argv)
    table = methods(a.native_steps)
    rows = []
    print("| posterior | backend | method | max mean err (sd) | max sd err | seconds |")
    print("|---|---|---|---|---|---|")
    for name in a.posteriors.split(","):
        for backend in a.backends.split(","):
            for label in a.methods.split(","):
                method, options = table[label]
                try:
                    row = evaluate(name, backend, method, options)
                except Exception as err:  # a failed fit is a row of the table, not a crash
                    row = {
                        "mean_err": float("nan"),
                        "sd_err": float("nan"),
                        "seconds": 0.0,
                        "error": f"{type(err).__name__}: {err}"[:200],
                    }
                row.update(posterior=name, backend=backend, method=label)
                rows.append(row)
                print(
                    f"| {name} | {backend} | {label} | {row['mean_err']:.3f} | "
                    f"{row['sd_err']:.3f} | {row['seconds']:.1f} |"
                    + (f" {row['error']}" if "error" in row else ""),
                    flush=True,
                )
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
