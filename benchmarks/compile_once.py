"""Data as arguments: the cost of a second ``ppl.infer`` on new data of the same shapes.

For each algorithm, ``ppl.infer`` runs twice in one process on a logistic regression (N=500,
D=5) with two different data sets of the same shapes, default options (small budgets: see
``BUDGETS``), NumPyro. The first call compiles; the second should find every compiled program
in the process-wide cache (``ppl.inference.compiled``). Printed: each call's
``timings["compile_seconds"]``, ``init_seconds`` (which holds any compilation done while the
algorithm starts: a MAP search, a warm start), and wall time; and the ratio second/first.

    python benchmarks/compile_once.py                       # svi, nuts, sgld, cmcd
    python benchmarks/compile_once.py --methods svi,realnvp
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings

import numpy as np

import ppl
from ppl import dist, ops

#: small budgets: this measures compilation, not accuracy
BUDGETS = {
    "nuts": {"num_warmup": 200, "num_samples": 200},
    "hmc": {"num_warmup": 200, "num_samples": 200},
    "svi": {"num_steps": 500, "tol": 0},
    "sgld": {"num_warmup": 200, "num_samples": 500, "batch_size": 50},
    "cmcd": {"num_steps": 200, "num_samples": 500},
    "realnvp": {"num_steps": 200, "num_samples": 500},
}


def logistic(X, y=None):
    w = ppl.sample("w", dist.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
    b = ppl.sample("b", dist.Normal(0.0, 1.0))
    with ppl.plate("data", X.shape[0]) as i:
        ppl.sample("y", dist.Bernoulli(logits=ops.matmul(X[i], w) + b), obs=y[i])


def data(seed, n=500, d=5):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    w = rng.normal(size=d)
    return X, (rng.random(n) < 1 / (1 + np.exp(-X @ w))).astype(float)


def measure(method: str, backend: str, device: str | None = None) -> list[dict]:
    rows = []
    for call in range(2):
        X, y = data(call)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            post = ppl.infer(
                logistic, method, args=(X, y), backend=backend, seed=call, progress=False,
                device=device,
                **BUDGETS.get(method, {}),
            )  # fmt: skip
        rows.append({"wall": time.perf_counter() - start, **post.timings})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", default="svi,nuts,sgld,cmcd")
    parser.add_argument("--backend", default="numpyro")
    parser.add_argument("--device", default=None, help="e.g. cuda (default: the backend's)")
    args = parser.parse_args(argv)
    print(f"# {platform.processor() or platform.machine()}, {time.strftime('%Y-%m-%d')}, "
          f"backend {args.backend}, device {args.device or 'default'}")  # fmt: skip
    print("| method | compile s (1st) | compile s (2nd) | 2nd / 1st | init s (1st / 2nd) | "
          "wall s (1st / 2nd) |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for method in args.methods.split(","):
        first, second = measure(method, args.backend, args.device)
        ratio = second["compile_seconds"] / max(first["compile_seconds"], 1e-12)
        print(
            f"| {method} | {first['compile_seconds']:.2f} | {second['compile_seconds']:.3f} | "
            f"{ratio:.1%} | {first['init_seconds']:.2f} / {second['init_seconds']:.2f} | "
            f"{first['wall']:.2f} / {second['wall']:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
