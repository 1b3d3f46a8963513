"""``svi``'s stop rule (issue 24, item 9): steps, wall time and accuracy before and after.

For each posterior and backend, two fits with ``svi``'s default options (the ``normal`` guide, or
``--guide``): "before" runs the whole 10,000-step budget (``tol=0``; the earlier rule, the
relative change of the windowed mean ELBO below ``tol`` between three windows, is applied to its
loss history afterwards, and the step where it would have stopped is printed: "never" where it
does not fire, which is why the default ran every step), "after" stops by the current rule. The
learning-rate schedule does not depend on when a fit stops, so a run stopped at step ``s`` is the
full run's first ``s`` steps. Accuracy: the largest over parameters of ``|mean - ref mean| /
ref sd`` and of ``|sd / ref sd - 1|``.

Posteriors: the six posteriordb ones in ``ppl.models`` (references: posteriordb's draws), the
README's 200 x 3 logistic regression (reference: NUTS, 4 x 2,000 draws on NumPyro) and a
minibatch logistic regression (5,000 x 5 data, ``subsample_size=100``; reference: NUTS on the
full data).

    python -m benchmarks.svi_stop                      # the run recorded in RESULTS.md
    python -m benchmarks.svi_stop --posteriors readme --backends pyro
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np

import ppl
from ppl import dist, ops
from ppl.errors import UntrustedResultWarning
from ppl.models.spec import compare

from .accuracy import POSTERIORS as POSTERIORDB

#: the earlier rule's defaults
OLD_TOL, OLD_WINDOW = 1e-4, 250


def logistic(X, y=None, subsample_size=None):
    """The README's logistic regression; with ``subsample_size`` a minibatch of the data."""
    w = ppl.sample("w", dist.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
    b = ppl.sample("b", dist.Normal(0.0, 1.0))
    with ppl.plate("data", X.shape[0], subsample_size=subsample_size) as idx:
        ppl.sample("y", dist.Bernoulli(logits=ops.matmul(X[idx], w) + b), obs=y[idx])


def _logistic_data(n, d, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    if n == 200:  # the README's data
        return X, (X[:, 0] > 0).astype(float)
    logits = X @ np.linspace(-1.0, 1.0, d) + 0.5
    return X, (rng.uniform(size=n) < 1 / (1 + np.exp(-logits))).astype(float)


def _nuts_reference(X, y):
    post = ppl.infer(
        logistic, "nuts", args=(X, y), backend="numpyro", num_chains=4, num_samples=2000,
        progress=False,
    )  # fmt: skip
    return {
        k: {"mean": v.mean((0, 1)), "sd": v.std((0, 1))}
        for k, v in post.samples.items()
        if k in ("w", "b")
    }


def problems(names):
    """``{name: (model, args, kwargs, reference)}``."""
    out = {}
    for name in names:
        if name in POSTERIORDB:
            spec = ppl.models.get(name)
            out[name] = (spec.model, spec.args, dict(spec.kwargs), spec.reference)
        elif name == "readme":
            X, y = _logistic_data(200, 3, 0)
            out[name] = (logistic, (X, y), {}, _nuts_reference(X, y))
        elif name == "minibatch":
            X, y = _logistic_data(5000, 5, 1)
            out[name] = (logistic, (X, y), {"subsample_size": 100}, _nuts_reference(X, y))
        else:
            raise SystemExit(f"unknown posterior {name!r}")
    return out


def old_rule_stop(losses) -> int | None:
    """The step (a multiple of 250, as the driver checked) where the earlier rule stopped."""
    for n in range(3 * OLD_WINDOW, len(losses) + 1, 250):
        means = [losses[n - (i + 1) * OLD_WINDOW : n - i * OLD_WINDOW].mean() for i in range(3)]
        limit = OLD_TOL * (1.0 + abs(means[0]))
        if abs(means[0] - means[1]) < limit and abs(means[1] - means[2]) < limit:
            return n
    return None


def fit(model, args, kwargs, reference, backend, options):
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UntrustedResultWarning)
        post = ppl.infer(
            model, "svi", args=args, kwargs=kwargs, backend=backend, progress=False, **options
        )
    seconds = time.perf_counter() - start
    errors = compare(post.samples, reference)
    losses = np.asarray(post.sample_stats["loss"][0], float)
    return {
        "steps": len(losses),
        "seconds": seconds,
        "step_seconds": post.timings["run_seconds"],
        "mean_err": max(e["mean_err"] for e in errors.values()),
        "sd_err": max(abs(e["sd_err"]) for e in errors.values()),
        "warned": any(issubclass(w.category, UntrustedResultWarning) for w in caught),
        "losses": losses,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posteriors", default=",".join((*POSTERIORDB, "readme", "minibatch")))
    parser.add_argument("--backends", default="numpyro,pyro")
    parser.add_argument("--guide", default=None, help="svi's guide (default: svi's default)")
    parser.add_argument("--after-only", action="store_true", help="skip the 10,000-step runs")
    a = parser.parse_args(argv)
    guide = {"guide": a.guide} if a.guide else {}
    print(
        "| posterior | backend | steps before (old rule) / after | seconds before / after "
        "| seconds of steps before / after | mean err before / after | sd err before / after "
        "| warned after |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, (model, args, kwargs, ref) in problems(a.posteriors.split(",")).items():
        for backend in a.backends.split(","):
            after = fit(model, args, kwargs, ref, backend, guide)
            if a.after_only:
                before = {"steps": "-", "seconds": float("nan"), "step_seconds": float("nan"),
                          "mean_err": float("nan"),
                          "sd_err": float("nan"), "losses": np.zeros(0)}  # fmt: skip
            else:
                before = fit(model, args, kwargs, ref, backend, {**guide, "tol": 0})
            old = old_rule_stop(before["losses"]) if len(before["losses"]) else None
            print(
                f"| {name} | {backend} | {before['steps']} ({old or 'never'}) / "
                f"{after['steps']} | {before['seconds']:.1f} / {after['seconds']:.1f} | "
                f"{before['step_seconds']:.2f} / {after['step_seconds']:.2f} | "
                f"{before['mean_err']:.3f} / {after['mean_err']:.3f} | "
                f"{before['sd_err']:.3f} / {after['sd_err']:.3f} | "
                f"{'yes' if after['warned'] else 'no'} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
