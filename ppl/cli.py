"""The ``ppl`` command.

``ppl backends`` lists the backends; ``ppl algorithms`` the inference registry and the decision
algorithms of ``ppl.decide``; ``ppl models`` the model registry;
``ppl run MODEL --method M`` runs one algorithm on a ready model;
``ppl compare MODEL --methods a,b`` tabulates several on both backends;
``ppl tutorials`` lists the tutorials; ``ppl tutorial NAME [--smoke]`` runs one;
``ppl main`` is the job behind ``make run``.
"""

from __future__ import annotations

import argparse
import os
import sys

from .compare import EXECUTORS
from .errors import PPLError
from .inference.chains import CHAIN_METHODS

__all__ = ["main"]


def _backends(args) -> int:
    import ppl

    for name in ppl.backends():
        print(name)
    return 0


def _algorithms(args) -> int:
    import ppl
    import ppl.decide

    # the inference registry (what ``ppl.infer`` runs), then ppl.decide's decision algorithms
    for spec in ppl.algorithms() + ppl.decide.algorithms():
        print(f"{spec.name:<20} {spec.family:<12} {','.join(spec.backends):<16} {spec.summary}")
    return 0


def _models(args) -> int:
    import ppl.models
    from ppl.errors import ModelError

    for name in ppl.models.names():
        if not args.verbose:
            print(name)
            continue
        try:
            spec = ppl.models.get(name)
        except ModelError as err:  # a model whose optional dependency is missing
            print(f"{name:<40} unavailable: {err}")
            continue
        print(f"{name:<40} {spec.family:<13} {','.join(spec.backends):<14} {spec.description}")
    return 0


#: the job behind ``make run``: a posteriordb posterior with gold-standard moments
MAIN_MODEL = "kidiq-kidscore_momiq"
MAIN_METHODS = ("nuts", "svi")
MAIN_OPTIONS = {"num_warmup": 500, "num_samples": 500, "guide": "mvn"}


def _run(args) -> int:
    import ppl.models
    from ppl.compare import format_table, parse_options, run_one

    spec = ppl.models.get(args.model)
    options = parse_options(args.option)
    if args.num_samples is not None:
        options["num_samples"] = args.num_samples
    row = run_one(
        spec,
        args.method,
        args.backend or spec.backends[0],
        options,
        args.seed,
        progress=None,
        device=args.device,
        chain_method=args.chain_method,
        devices=args.devices,
    )
    # the other processes of torchrun (RANK) or jax.distributed (JAX_PROCESS_ID): one reports
    if os.environ.get("RANK", os.environ.get("JAX_PROCESS_ID", "0")) != "0":
        return 0
    post = row.posterior
    print(post.summary().to_string())
    print()
    print(format_table([row]))
    if args.out:
        print(f"saved to {post.save(args.out)}")
    return 0


def _compare(args) -> int:
    import ppl.models
    from ppl.compare import compare, format_table, parse_options, plot_marginals

    spec = ppl.models.get(args.model)
    rows = compare(
        spec,
        args.methods.split(","),
        args.backends.split(","),
        parse_options(args.option),
        args.seed,
        progress=False,
        executor=args.executor,
    )
    if not rows:
        from .errors import OptionError

        raise OptionError(
            f"None of the methods {args.methods} runs on the backends {args.backends} for "
            f"{spec.name!r}, whose backends are {', '.join(spec.backends)}."
        )
    print(f"{spec.name}: {spec.description}")
    print(format_table(rows))
    if args.plot:
        print(f"plot: {plot_marginals(rows, args.plot, reference=spec.reference)}")
    return 0 if any(not r.error for r in rows) else 1


def _tutorial_paths() -> dict:
    import pathlib

    folder = pathlib.Path(__file__).resolve().parent.parent / "tutorials"
    return {p.stem: p for p in sorted(folder.glob("*.py"))}


def _first_line(path) -> str:
    """The tutorial's title: its first markdown heading, without the ``#`` marks."""
    for line in path.read_text().splitlines():
        text = line.lstrip("# ").strip()
        if line.startswith("# #") and text:
            return text
    return ""


def _tutorials(args) -> int:
    paths = _tutorial_paths()
    width = max(map(len, paths), default=0)
    for name, path in paths.items():
        print(f"{name:<{width}}  {_first_line(path)}")
    return 0


def _tutorial(args) -> int:
    import os
    import runpy

    from .errors import OptionError, did_you_mean

    paths = _tutorial_paths()
    if args.name not in paths:
        raise OptionError(
            f"Unknown tutorial {args.name!r}."
            + did_you_mean(args.name, paths)
            + f" The tutorials are: {', '.join(paths) or 'none (run from a source checkout)'}."
        )
    if args.smoke:
        os.environ["PPL_SMOKE"] = "1"
    if args.backend:
        os.environ["PPL_BACKEND"] = args.backend
    runpy.run_path(str(paths[args.name]), run_name="__main__")
    print(f"figures in {os.path.join('out', args.name)}")
    return 0


def _main_job(args) -> int:
    """``ppl compare`` on a built-in model with several algorithms on both backends."""
    import os

    os.makedirs("out", exist_ok=True)
    options = [f"{k}={v!r}" for k, v in MAIN_OPTIONS.items()]
    return main(
        [
            "compare",
            MAIN_MODEL,
            "--methods",
            ",".join(MAIN_METHODS),
            "--backends",
            "numpyro,pyro",
            "--plot",
            "out/compare.png",
            *[x for o in options for x in ("--option", o)],
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ppl", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("backends", help="list the backends").set_defaults(run=_backends)
    commands.add_parser("algorithms", help="list the algorithms").set_defaults(run=_algorithms)
    models = commands.add_parser("models", help="list the ready models (ppl.models)")
    models.add_argument(
        "--names-only", dest="verbose", action="store_false", help="print only the names"
    )
    models.set_defaults(run=_models)
    run = commands.add_parser("run", help="run one algorithm on a ready model")
    run.add_argument("model")
    run.add_argument("--method", default="nuts")
    run.add_argument("--backend", default=None)
    run.add_argument("--num-samples", type=int, default=None)
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--device", default=None, help="cpu, cuda or gpu")
    run.add_argument(
        "--chain-method",
        choices=CHAIN_METHODS,
        default=None,
        help="how num_chains chains run (default: vectorized where the backend can)",
    )
    run.add_argument(
        "--devices",
        type=int,
        default=1,
        help="devices that share every minibatch gradient (SG-MCMC; on pyro, one process per "
        "device: torchrun --nproc_per_node N -m ppl run ...)",
    )
    run.add_argument("--option", action="append", help="an algorithm option, key=value")
    run.add_argument("--out", help="save the posterior to this netCDF file")
    run.set_defaults(run=_run)
    comp = commands.add_parser("compare", help="several algorithms on both backends")
    comp.add_argument("model")
    comp.add_argument("--methods", default="nuts,svi")
    comp.add_argument("--backends", default="numpyro,pyro")
    comp.add_argument("--seed", type=int, default=0)
    comp.add_argument(
        "--option", action="append", help="an option, key=value (each method takes the ones it has)"
    )
    comp.add_argument("--plot", help="write posterior marginals side by side to this PNG")
    comp.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="local",
        help="local: one run after another; ray: Ray tasks (pip install ppl[ray])",
    )
    comp.set_defaults(run=_compare)
    commands.add_parser("tutorials", help="list the tutorials").set_defaults(run=_tutorials)
    tutorial = commands.add_parser(
        "tutorial", help="run one tutorial (figures go to out/NAME/ under the current directory)"
    )
    tutorial.add_argument("name")
    tutorial.add_argument("--smoke", action="store_true", help="tiny settings (PPL_SMOKE=1)")
    tutorial.add_argument("--backend", default=None, help="sets PPL_BACKEND for the tutorial")
    tutorial.set_defaults(run=_tutorial)
    commands.add_parser("main", help="the job behind `make run`").set_defaults(run=_main_job)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except PPLError as err:
        print(f"ppl: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
