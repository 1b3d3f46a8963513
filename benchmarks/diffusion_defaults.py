"""The diffusion samplers (ais, ula, mcd, cmcd) with their default options on targets with
separated modes and on a badly scaled Gaussian (issue 24, item 11).

Targets, all with a known ``log Z``:

- ``double_well``: ``ppl.infer(log_density, method, dim=2)`` with ``E = x1^4 - 6 x1^2 - x1 / 2 +
  x2^2 / 2``, 15.6% of the mass in the left well (quadrature, ``ppl.models.energies``); "mode
  err" is the weighted left-well mass minus the truth.
- ``mixture``: ``ppl.models`` ``gmm_challenging_2d`` (six elongated modes, ``log Z = 0``); "mode
  err" is the largest difference between a mode's weighted mass and its true mass.
- ``anisotropic``: ``ppl.infer(log_density, method, dim=2)`` for ``N(m, S)`` with standard
  deviations 10 and 0.1 along axes rotated by 30 degrees, unnormalized (``log Z = log(2 pi *
  10 * 0.1)``); "mode err" is empty.

Each row is one run of ``ppl.infer`` with the defaults (``--options`` adds some, e.g.
``vi_starts=1`` for the single VI fit that was the default before); "log Z err" is the estimate
minus the truth, "se" the reported standard error, ESS that of the 1,000 weighted draws, "s"
the wall time of the call. torch runs on one thread, as in ``benchmarks/cmcd.py``.

Run: ``PYTHONPATH=$PWD .venv/bin/python benchmarks/diffusion_defaults.py --backend numpyro pyro``
(``PYTHONPATH``: so that the script imports this checkout's ``ppl``).
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
from scipy.special import logsumexp

import ppl
from ppl import ops
from ppl.models import energies, targets

METHODS = ("ais", "ula", "mcd", "cmcd")
TARGETS = ("double_well", "mixture", "anisotropic")
ANGLE = math.pi / 6
ROTATION = np.array([[math.cos(ANGLE), -math.sin(ANGLE)], [math.sin(ANGLE), math.cos(ANGLE)]])
SDS = np.array([10.0, 0.1])
PRECISION = ROTATION @ np.diag(SDS**-2.0) @ ROTATION.T
MEAN = np.array([1.0, -2.0])


def double_well(x):
    return -(x[0] ** 4 - 6.0 * x[0] ** 2 - 0.5 * x[0] + 0.5 * x[1] ** 2)


def anisotropic(x):
    r = x - ops.asarray(MEAN)
    return -0.5 * ops.sum(r * ops.matmul(ops.asarray(PRECISION), r))


def _left_mass() -> float:
    x1 = np.linspace(-5.0, 5.0, 4001)
    f = -energies.free_energy_profile(x1)
    p = np.exp(f - f.max())
    return float(p[x1 < 0].sum() / p.sum())


def run_one(target, method, backend, seed, options):
    if target == "mixture":
        spec = ppl.models.get("gmm_challenging_2d")
        fn, call, log_z = spec.model, dict(args=spec.args, kwargs=spec.kwargs), spec.log_z
    elif target == "double_well":
        fn, call, log_z = double_well, dict(dim=2), energies.quadrature("double_well")[0]
    else:
        fn, call, log_z = anisotropic, dict(dim=2), math.log(2 * math.pi * SDS.prod())
    start = time.perf_counter()
    post = ppl.infer(fn, method, backend=backend, seed=seed, progress=False, **call, **options)
    seconds = time.perf_counter() - start
    x = post.raw_samples["x"].reshape(-1, 2)
    lw = post.diagnostics["log_weights"]
    p = np.exp(lw - logsumexp(lw))
    if target == "double_well":
        mode_err = f"{p[x[:, 0] < 0].sum() - _left_mass():+.3f}"
    elif target == "mixture":
        masses = np.bincount(targets.challenging_mode(x), p, minlength=6)
        mode_err = f"{np.abs(masses - targets.challenging_mode_masses()).max():.3f}"
    else:
        mode_err = ""
    return (
        f"{post.log_z.estimate - log_z:+.3f}",
        f"{post.log_z.stderr:.3f}",
        mode_err,
        f"{post.diagnostics['ess']:.0f}",
        f"{seconds:.0f}",
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", nargs="+", default=["numpyro"])
    parser.add_argument("--targets", nargs="+", default=list(TARGETS), choices=TARGETS)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--options", type=json.loads, default={}, help='JSON, e.g. {"K": 32}')
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if "pyro" in args.backend:
        import torch

        torch.set_num_threads(1)
    print(
        f"options {args.options or 'default'}, seed {args.seed}\n\n"
        "| target | method | backend | log Z err | se | mode err | ESS | s |\n"
        "|---|---|---|---|---|---|---|---|",
        flush=True,
    )
    for target in args.targets:
        for backend in args.backend:
            for method in args.methods:
                cells = run_one(target, method, backend, args.seed, args.options)
                print(
                    f"| {target} | {method} | {backend} | " + " | ".join(cells) + " |", flush=True
                )
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
