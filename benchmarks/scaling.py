"""Per-step time of ``sgld`` and ``svi`` on Bayesian logistic regression as N and D grow.

Two sweeps, both backends: N = 10^3 ... 10^6 at D = 20, and D = 10 ... 1,000 at N = 10,000.

- ``sgld``: minibatches of 100 (``batch_size=100``), step size 1e-4, no warmup. Expected cost per
  step: flat in N (the minibatch indices should be drawn in O(B), not O(N)) and linear in D.
- ``svi``: full batch (no subsampling), AutoNormal-style ``guide="normal"``, Adam, ``tol=0`` so
  it runs every one of its steps, ``init="median"`` and ``whiten=False`` so neither the MAP
  search (L-BFGS) nor the Laplace whitening runs before the fit; only 10 guide draws after it.
  Expected cost per step: linear in N*D.

Per-step time on JAX is ``post.timings["run_seconds"] / steps`` (the driver's run time, which
excludes compilation), with ``compile_seconds`` reported separately. torch compiles nothing ahead
but records its potential at the first call, inside the run time, so there the per-step time is
the difference of two runs (``steps`` and ``steps // 5``) over the difference in steps, and the
first-call time (the short run less its steps) is reported in the compile column. Each cell
is the median of ``--repeats`` ``ppl.infer`` calls (``--big-repeats`` at N = 10^6 and D = 1,000).
torch runs on one thread (``torch.set_num_threads(1)``) as in the other benchmarks.

The fitted slope is that of log(time per step) against log(N) (or log(D)) by least squares over
the whole sweep, and over its last two points (the large-size regime, where fixed per-step
overheads no longer hide the data-dependent part).

    python -m benchmarks.scaling --big-repeats 5 --plot benchmarks/scaling.png  # RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time

import numpy as np

import ppl
from ppl import dist, ops

N_SWEEP = (1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000)
D_FIXED = 20
D_SWEEP = (10, 30, 100, 300, 1_000)
N_FIXED = 10_000
BATCH = 100
BACKENDS = ("numpyro", "pyro")
METHODS = ("sgld", "svi")
#: steps per ppl.infer call, by (method, backend): each run is about 0.1-2 s at the largest sizes
STEPS = {
    ("sgld", "numpyro"): 400,
    ("sgld", "pyro"): 500,
    ("svi", "numpyro"): 100,
    ("svi", "pyro"): 100,
}


def data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    w = (rng.normal(size=d) / math.sqrt(d)).astype(np.float32)
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-(x @ w)))).astype(np.float32)
    return x, y


def model(x, y):
    w = ppl.sample("w", dist.Normal(0.0, 1.0).expand([x.shape[1]]).to_event(1))
    b = ppl.sample("b", dist.Normal(0.0, 1.0))
    with ppl.plate("data", x.shape[0]):  # sgld's batch_size subsamples it; svi sees all of it
        xb, yb = ppl.subsample(x, event_dim=1), ppl.subsample(y, event_dim=0)
        ppl.sample("y", dist.Bernoulli(logits=ops.matmul(xb, w) + b), obs=yb)


def options(method, steps):
    if method == "sgld":
        return {"num_warmup": 0, "num_samples": steps, "step_size": 1e-4, "batch_size": BATCH}
    return {
        "num_steps": steps, "tol": 0.0, "init": "median", "whiten": False, "num_samples": 10,
    }  # fmt: skip


def _run_seconds(method, backend, x, y, steps, seed):
    post = ppl.infer(
        model, method, args=(x, y), backend=backend, seed=seed, progress=False,
        **options(method, steps),
    )  # fmt: skip
    return post.timings["run_seconds"], post.timings["compile_seconds"]


def time_cell(method, backend, x, y, steps, repeats):
    """(median per-step seconds, median compile / first-call seconds, all per-step seconds).

    JAX: per step = run seconds / steps; compile seconds are the driver's. torch compiles nothing
    ahead but records its potential (``torch.jit.trace``) at the first call, inside the run
    time, so each repeat runs ``steps // 5`` and ``steps`` steps and takes per step = the
    difference / the difference in steps, and first-call = the short run less its steps."""
    per_step, first = [], []
    for r in range(repeats):
        run_s, compile_s = _run_seconds(method, backend, x, y, steps, r)
        if backend == "pyro":
            short = steps // 5
            short_s, _ = _run_seconds(method, backend, x, y, short, r)
            per_step.append((run_s - short_s) / (steps - short))
            first.append(max(0.0, short_s - short * per_step[-1]))
        else:
            per_step.append(run_s / steps)
            first.append(compile_s)
    return statistics.median(per_step), statistics.median(first), per_step


def slope(sizes, seconds):
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def sweep(axis, sizes, args, rows):
    for size in sizes:
        n, d = (size, D_FIXED) if axis == "N" else (N_FIXED, size)
        x, y = data(n, d)
        big = size == max(sizes)
        repeats = args.big_repeats if big else args.repeats
        for backend in args.backends:
            for method in args.methods:
                steps = STEPS[(method, backend)]
                t0 = time.perf_counter()
                sec, comp, all_s = time_cell(method, backend, x, y, steps, repeats)
                rows.append({
                    "axis": axis, "N": n, "D": d, "backend": backend, "method": method,
                    "steps": steps, "repeats": repeats, "per_step_s": sec, "compile_s": comp,
                    "all_per_step_s": all_s, "wall_s": time.perf_counter() - t0,
                })  # fmt: skip
                print(f"  {axis} N={n:>9,} D={d:>5} {backend:7} {method:4} "
                      f"{sec * 1e6:10.1f} us/step  compile {comp:5.2f} s  "
                      f"({repeats}x{steps} steps, {rows[-1]['wall_s']:.1f} s)",
                      flush=True)  # fmt: skip


def _cell(rows, axis, backend, method):
    return [r for r in rows if (r["axis"], r["backend"], r["method"]) == (axis, backend, method)]


def slopes(rows):
    out = []
    for axis in ("N", "D"):
        for backend in BACKENDS:
            for method in METHODS:
                cell = _cell(rows, axis, backend, method)
                if len(cell) < 2:
                    continue
                sizes = [r[axis] for r in cell]
                secs = [r["per_step_s"] for r in cell]
                out.append({
                    "axis": axis, "backend": backend, "method": method,
                    "slope": slope(sizes, secs), "slope_last2": slope(sizes[-2:], secs[-2:]),
                })  # fmt: skip
    return out


def plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), dpi=80)
    for ax, axis, fixed in zip(axes, ("N", "D"), (f"D={D_FIXED}", f"N={N_FIXED:,}")):
        for backend in BACKENDS:
            for method in METHODS:
                cell = _cell(rows, axis, backend, method)
                if cell:
                    style = "o-" if method == "sgld" else "s--"
                    us = [r["per_step_s"] * 1e6 for r in cell]
                    ax.loglog([r[axis] for r in cell], us, style, label=f"{method} ({backend})")
        ax.set_xlabel(f"{axis} ({fixed})")
        ax.set_ylabel("time per step (us)")
        ax.grid(True, which="major", alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"logistic regression: sgld (batch {BATCH}) and full-batch svi", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--big-repeats", type=int, default=3)
    parser.add_argument("--backends", nargs="+", default=list(BACKENDS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--n", nargs="+", type=int, default=list(N_SWEEP))
    parser.add_argument("--d", nargs="+", type=int, default=list(D_SWEEP))
    parser.add_argument("--plot", help="write the log-log plot here (PNG)")
    parser.add_argument("--json", help="write the rows and slopes here")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    start = time.perf_counter()
    x, y = data(200, 5)  # one untimed call of each: imports and one-off initialisation
    for backend in args.backends:
        for method in args.methods:
            _run_seconds(method, backend, x, y, 10, 0)
    rows: list[dict] = []
    sweep("N", args.n, args, rows)
    sweep("D", args.d, args, rows)
    fitted = slopes(rows)
    wall = time.perf_counter() - start

    print(f"\nwall time {wall:.0f} s\n")
    print("| sweep | N | D | backend | method | per step (us) | compile or first call (s) "
          "| steps x repeats |")  # fmt: skip
    print("|---|---:|---:|---|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['axis']} | {r['N']:,} | {r['D']:,} | {r['backend']} | {r['method']} | "
              f"{r['per_step_s'] * 1e6:.1f} | {r['compile_s']:.2f} | "
              f"{r['steps']} x {r['repeats']} |")  # fmt: skip
    print("\n| slope of log(time/step) vs | backend | method | whole sweep | last two points |")
    print("|---|---|---|---:|---:|")
    for s in fitted:
        print(f"| log {s['axis']} | {s['backend']} | {s['method']} | {s['slope']:.2f} | "
              f"{s['slope_last2']:.2f} |")  # fmt: skip
    if args.plot:
        plot(rows, args.plot)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "slopes": fitted, "wall_s": wall}, f, indent=1)


if __name__ == "__main__":
    main()
