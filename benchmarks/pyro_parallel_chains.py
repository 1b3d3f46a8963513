"""Wall time of ``nuts`` on Pyro with 1, 2 and 4 chains, in worker processes or one after another.

Issue 20's line "4 chains of ``nuts`` on Pyro take less than 2x the time of one":
``chain_method="parallel"`` on Pyro runs one forked worker process per chain
(``ppl.inference.chain_processes``); ``"sequential"`` runs them one after another in the
caller. Each repeat makes one ``ppl.infer`` call per row, in turn (interleaved, so the load of a
shared machine hits all alike); the table gives the median wall time of the whole call (forks,
pickling the draws back and the potential's recording included) and its ratio to the one-chain
call of the same repeat. The processes share the machine's cores: with fewer free cores than
chains the workers queue, so the ratio is bounded by ``chains / free cores``.

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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="logistic_regression")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    import torch  # the benchmark's own setting, not the library's

    torch.set_num_threads(1)
    rows = [(1, "sequential"), (2, "parallel"), (4, "parallel"), (2, "sequential"),
            (4, "sequential")]  # fmt: skip
    times: dict = {row: [] for row in rows}
    call(1, "sequential", args)  # warm-up: imports, first recordings
    for _ in range(args.repeats):
        for row in rows:
            times[row].append(call(*row, args))
    print(
        f"{os.cpu_count()} CPU cores, load average {os.getloadavg()[0]:.1f} at the end; "
        f"{args.repeats} interleaved repeats, medians.\n\n"
        "| chains | chain_method | wall s | x one chain (same repeat) |\n|---|---|---|---|"
    )
    for row, ts in times.items():
        ratio = statistics.median(t / one for t, one in zip(ts, times[(1, "sequential")]))
        print(f"| {row[0]} | {row[1]} | {statistics.median(ts):.2f} | {ratio:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
