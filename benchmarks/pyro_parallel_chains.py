"""Wall time of ``nuts`` on Pyro with 1, 2 and 4 chains: vectorized, in worker processes, or one
after another.

Issue 20's line "4 chains of ``nuts`` on Pyro take less than 2x the time of one":
``chain_method="vectorized"`` on Pyro runs the batched NUTS kernel (all chains' trees in
lockstep, ``ppl.backends.pyro.batched_nuts``); ``"parallel"`` runs Pyro's own kernel in one
forked worker process per chain (``ppl.inference.chain_processes``); ``"sequential"`` runs it one
chain after another in the caller. Each repeat makes one ``ppl.infer`` call per row, in turn
(interleaved, so the load of a shared machine hits all alike); the table gives the median wall
time of the whole call (forks, pickling the draws back and the potential's recording included)
and the median over repeats of its ratio to the one-chain call (Pyro's kernel) of the same
repeat. The processes share the machine's cores: with fewer free cores than chains the workers
queue, so the ratio is bounded by ``chains / free cores``.

``ppl.infer`` runs one chain with Pyro's kernel whatever ``chain_method`` says, so the rows
``batched kernel`` time the batched kernel itself with 1 and with 4 chains in one harness (the
problem built, the chains started, then ``--warmup + --samples`` steps), their ratio again per
repeat.

Model: ``ppl.models`` ``logistic_regression`` (its default data), ``--warmup`` + ``--samples``
steps per chain. torch runs on one thread per process (``torch.set_num_threads(1)``).
Run: ``.venv/bin/python benchmarks/pyro_parallel_chains.py`` (Markdown on stdout).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import ppl


def call(chains: int, method: str, args) -> float:
    spec = ppl.models.get(args.model)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short runs' diagnostics
        ppl.infer(spec.model, "nuts", args=spec.args, kwargs=spec.kwargs, backend="pyro",
                  seed=0, progress=False, num_chains=chains, chain_method=method,
                  num_warmup=args.warmup, num_samples=args.samples)  # fmt: skip
    return time.perf_counter() - start


def kernel_call(chains: int, _method: str, args) -> float:
    """The batched NUTS kernel alone on ``chains`` chains (the steps ``ppl.infer`` runs)."""
    from ppl.backends import get_backend
    from ppl.inference.mcmc import nuts

    backend = get_backend("pyro")
    spec = ppl.models.get(args.model)
    start = time.perf_counter()
    problem = backend.problem(spec.model, spec.args, spec.kwargs)
    options = nuts.Options(num_warmup=args.warmup, num_samples=args.samples)
    kernel = nuts.build(problem, options).vectorized()
    states = [kernel.init(k) for k in backend.split(backend.key(0), chains)]
    state = backend.tree_map(lambda *leaves: backend.xp.stack(leaves), *states)
    steps = args.warmup + args.samples
    keys = backend.xp.reshape(backend.split(backend.key(1), steps * chains), (steps, chains))
    for t in range(steps):
        state, _ = kernel.step(state, keys[t])
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="logistic_regression")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    import torch  # the benchmark's own setting, not the library's

    torch.set_num_threads(1)
    rows = [(1, "sequential"), (2, "vectorized"), (4, "vectorized"), (2, "parallel"),
            (4, "parallel"), (2, "sequential"), (4, "sequential"), (1, "batched kernel"),
            (4, "batched kernel")]  # fmt: skip
    times: dict = {row: [] for row in rows}
    call(1, "sequential", args)  # warm-up: imports, first recordings
    kernel_call(2, "", args)
    for _ in range(args.repeats):
        for row in rows:
            run = kernel_call if row[1] == "batched kernel" else call
            times[row].append(run(*row, args))
    print(
        f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f} at the end; "
        f"{args.repeats} interleaved repeats, medians.\n\n"
        "| chains | chain_method | wall s | x one chain (same repeat) | ratio per repeat |\n"
        "|---|---|---:|---:|---|"
    )
    for row, ts in times.items():
        one = times[(1, "batched kernel" if row[1] == "batched kernel" else "sequential")]
        ratios = [t / o for t, o in zip(ts, one)]
        each = ", ".join(f"{r:.2f}" for r in ratios)
        print(
            f"| {row[0]} | {row[1]} | {statistics.median(ts):.2f} | "
            f"{statistics.median(ratios):.2f} | {each} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
