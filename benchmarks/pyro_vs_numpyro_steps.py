"""Time per training step of the flows and diffusions on Pyro against NumPyro, side by side.

Issue 20's line "per training step within 3x NumPyro's on CPU": ``cmcd`` on Neal's funnel
(d=10, K=32 steps, 128 paths per step, ``init_q0="vi"`` as in ``benchmarks/cmcd.py``) and
``realnvp`` on the double well (3 blocks of 64x64 MLPs, batch 128, energy-only training, as in
``benchmarks/snf.py``). Contenders: NumPyro, Pyro (eager), Pyro with ``compile=True`` (the
whole step recorded as one graph and run by TorchScript, ``ppl.backends.pyro.traced``) and, for
``realnvp``, Pyro with ``compile="inductor"`` (the same recording compiled by inductor; not run
on ``cmcd``, whose recorded step of ~12,700 operations is for TorchScript already 95 s to
compile on the loaded machine).

Each repeat makes one ``ppl.infer`` call per contender, in turn (interleaved, so the load of a
shared machine hits all alike), of ``--steps`` training steps (NumPyro: ``--numpyro-factor``
times as many, so that its run of far shorter steps spans a stretch of the machine's changing
load like the others' runs do); a step's time is the run's ``timings["run_seconds"] / steps``,
which leaves compilation out (``compile_seconds``, reported on its own: JAX's compile of the
loop, Pyro's recording of the step and its check). The table
gives the median over repeats of the step time and of each repeat's ratio to NumPyro's step in
the same repeat, and the first repeat's compile time (a later call may reuse a compilation:
JAX's of the same loop, inductor's on-disk cache; run with ``TORCHINDUCTOR_CACHE_DIR`` set to
an empty folder for a cold inductor compile).

torch runs on one thread (``torch.set_num_threads(1)``; see ``benchmarks/cmcd.py``).
Run: ``.venv/bin/python benchmarks/pyro_vs_numpyro_steps.py`` (Markdown on stdout);
``--help`` lists the settings.
"""

from __future__ import annotations

import argparse
import statistics
import warnings

import ppl

#: (row, backend, compile)
CONTENDERS = (("numpyro", "numpyro", False), ("pyro", "pyro", False),
              ("pyro compile=True", "pyro", True),
              ("pyro compile='inductor'", "pyro", "inductor"))  # fmt: skip
#: the workloads that skip a contender (see the module docstring)
SKIP = {"cmcd funnel d=10 K=32 128 paths": ("pyro compile='inductor'",)}


def cmcd_call(backend: str, compile: bool, steps: int, seed: int):
    spec = ppl.models.get("funnel")
    return ppl.infer(
        spec.model, "cmcd", args=spec.args, kwargs=spec.kwargs, backend=backend, seed=seed,
        progress=False, compile=compile, K=32, batch_size=128, num_steps=steps,
        num_samples=128, init_q0="vi",
    )  # fmt: skip


def realnvp_call(backend: str, compile: bool, steps: int, seed: int):
    spec = ppl.models.get("double_well")
    return ppl.infer(
        spec.model, "realnvp", backend=backend, seed=seed, progress=False, compile=compile,
        num_blocks=3, hidden=(64, 64), batch_size=128, num_steps=steps, num_samples=128,
        warm_start=False,
    )  # fmt: skip


WORKLOADS = {"cmcd funnel d=10 K=32 128 paths": cmcd_call,
             "realnvp double well 3x(64,64) batch 128": realnvp_call}  # fmt: skip


def measure(call, steps: int, repeats: int, contenders, numpyro_factor: int = 1) -> dict:
    """``{row: (step seconds per repeat, compile seconds per repeat)}``, interleaved."""
    out = {row: ([], []) for row, _, _ in contenders}
    for r in range(repeats):
        for row, backend, compile in contenders:
            n = steps * (numpyro_factor if backend == "numpyro" else 1)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the fits' convergence warnings
                post = call(backend, compile, n, seed=r)
            out[row][0].append(post.timings["run_seconds"] / n)
            out[row][1].append(post.timings["compile_seconds"])
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="training steps per call")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--numpyro-factor", type=int, default=10,
                        help="NumPyro runs this many times --steps")  # fmt: skip
    parser.add_argument("--workloads", nargs="+", default=list(WORKLOADS),
                        choices=list(WORKLOADS))  # fmt: skip
    parser.add_argument("--no-compile", action="store_true", help="skip Pyro's compiled steps")
    # cmcd with inductor takes minutes to compile
    parser.add_argument("--all", action="store_true", help="also the skipped contenders")
    args = parser.parse_args(argv)
    import torch  # the benchmark's own setting, not the library's

    torch.set_num_threads(1)
    contenders = [c for c in CONTENDERS if not (args.no_compile and c[2])]
    print(
        f"{args.repeats} interleaved repeats of {args.steps} steps (NumPyro "
        f"{args.steps * args.numpyro_factor}); medians over repeats.\n\n"
        "| workload | contender | ms / step | x NumPyro (same repeat): median (each) | "
        "compile s (first) |\n|---|---|---|---|---|",
        flush=True,
    )
    for workload in args.workloads:
        skip = () if args.all else SKIP.get(workload, ())
        chosen = [c for c in contenders if c[0] not in skip]
        times = measure(WORKLOADS[workload], args.steps, args.repeats, chosen, args.numpyro_factor)
        base = times["numpyro"][0]
        for row, (steps, compiles) in times.items():
            ratios = [s / b for s, b in zip(steps, base)]
            each = ", ".join(f"{r:.2f}" for r in ratios)
            print(
                f"| {workload} | {row} | {1e3 * statistics.median(steps):.2f} | "
                f"{statistics.median(ratios):.2f} ({each}) | "
                f"{compiles[0]:.1f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
