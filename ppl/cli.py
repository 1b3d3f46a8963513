"""The ``ppl`` command.

``ppl backends`` lists the backends; ``ppl algorithms`` and ``ppl models`` the registries;
``ppl main`` is the job behind ``make run``.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def _backends(args) -> int:
    import ppl

    for name in ppl.backends():
        print(name)
    return 0


def _algorithms(args) -> int:
    try:
        import ppl

        specs = ppl.algorithms()
    except AttributeError:
        specs = ()
    if not specs:
        print("no algorithm registered yet")
        return 0
    for spec in specs:
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


def _main_job(args) -> int:
    """Build the same model on both backends and compare their potentials."""
    import numpy as np

    import ppl
    from ppl import dist

    def model(x):
        loc = ppl.sample("loc", dist.Normal(0.0, 10.0))
        scale = ppl.sample("scale", dist.HalfNormal(5.0))
        with ppl.plate("data", x.shape[0]):
            ppl.sample("x", dist.Normal(loc, scale), obs=x)

    x = np.random.default_rng(0).normal(1.0, 2.0, size=100)
    for name in ppl.backends():
        backend = ppl.get_backend(name)
        problem = backend.problem(model, (x,))
        z = backend.asarray(np.zeros(problem.dim))
        print(f"{name:<8} dim={problem.dim} potential(0)={float(problem.potential(z)):.6f}")
    return _algorithms(args)


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
    commands.add_parser("main", help="the job behind `make run`").set_defaults(run=_main_job)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
