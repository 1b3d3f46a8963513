"""SG-MCMC at the scale it exists for (issue 25): a 20,301-weight Bayesian neural network on
10,000 rows and a logistic regression on 10^6 rows, with default options, against BlackJAX and
against ``svi``.

Problems (generated, so nothing is downloaded):

- ``bnn``: ``ppl.models.bnn.deep_bnn_regression``, 100 inputs, two hidden ``tanh`` layers of
  100 units, one output (``100*100 + 100 + 100*100 + 100 + 100 + 1 = 20,301`` weights and
  ``sigma``), on Friedman's first problem (``ppl.models.bnn.friedman_data``: scikit-learn's
  ``make_friedman1`` recipe with 100 inputs of which 5 matter, noise sd 1, standardised),
  ``--bnn-n`` training rows (10,000) and 2,000 held out, seed 0.
- ``logistic``: ``y ~ Bernoulli(logits = X w + b)``, ``X`` i.i.d. N(0, 1) in float32, ``D =
  100``, true ``w ~ N(0, 0.3^2)``, ``b = 0.5``, priors N(0, 1); ``--lr-n`` training rows
  (10^6) and 100,000 held out, seed 0. Its reference posterior is the Laplace approximation at
  the MAP point in float64 (Newton's method to a gradient norm below 1e-6; at N = 10^6 and
  D = 100 the posterior is Gaussian to O(D / N)): the tables give the largest and the median
  over the 101 coefficients of ``|mean - ref mean| / ref sd`` and the median ``sd / ref sd``.

Methods: ``sgld``, ``sghmc``, ``psgld``, ``structured_sgmcmc`` at default options
(``step_size="auto"``: the MAP search, the Laplace frame and the step rule, counted in the
``init`` column) with ``batch_size`` ``--batch`` (100), ``--num-warmup`` + ``--num-samples``
steps (1,000 + 1,000); ``svi`` at its defaults (normal guide, early stopping) with the same
minibatch (the model's plate ``subsample_size``). BlackJAX 1.7.1 ``sgld`` and ``sghmc``
(NumPyro rows only: they are JAX) on the same model written as a JAX log density, the same
batch drawn as its users do (``jax.random.randint(key, (B,), 0, N)``), the same number of
gradient steps (``sghmc``: ``num_integration_steps=10`` per call, so a tenth of the calls), from a
prior draw; BlackJAX has no automatic step size, so each runs at every step size of a grid
(``BLACKJAX_STEPS``) and the table keeps the one with the best held-out log-likelihood (an
oracle choice that favours BlackJAX; every grid point is printed).

Columns: ``init s``: ppl's warm start (MAP search, curvature, step rule) and the driver's set-up;
``compile s``: compilation apart (BlackJAX: the first step size's; the others reuse it);
``us/step``: the run's seconds over its steps; ``held-out
lppd``: the mean over held-out rows of ``log mean_draws p(y | x, draw)`` (all kept draws);
the trivial predictor's lppd (a Gaussian/Bernoulli fitted to the training y's) is printed too.

Run: ``PYTHONPATH=$PWD .venv/bin/python -m benchmarks.sgmcmc_scale`` (Markdown tables on
stdout); ``--quick``: 2,000 BNN rows, 20,000 logistic rows, 200 + 200 steps;
``--backends pyro`` with ``--bnn-n``/``--lr-n`` to shrink it for Pyro (no BlackJAX rows there).
"""

from __future__ import annotations

import argparse
import math
import time
import warnings

import numpy as np

import ppl
from benchmarks.sgmcmc_speed import logistic_log_density
from ppl import dist, ops
from ppl.models.bnn import deep_bnn_predict, deep_bnn_regression, deep_bnn_weights, friedman_data

METHODS = ("sgld", "sghmc", "psgld", "structured_sgmcmc")
#: BlackJAX's step-size grids by problem and sampler. SGLD's step multiplies the gradient
#: (stable below ~2 / the largest curvature: ~1e-5 for the logistic regression at N = 10^5);
#: BlackJAX's SGHMC moves ``x += h p``, ``p += h grad + ...`` (stable below ~2 / sqrt(the
#: largest curvature): ~1e-2), so its grid sits near the square root of SGLD's
BLACKJAX_STEPS = {
    ("bnn", "sgld"): (1e-6, 1e-5, 1e-4, 1e-3),
    ("bnn", "sghmc"): (1e-4, 1e-3, 1e-2),
    ("logistic", "sgld"): (1e-7, 1e-6, 1e-5),
    ("logistic", "sghmc"): (1e-4, 1e-3, 1e-2),
}
SGHMC_STEPS = 10
TEST_BNN, TEST_LR = 2_000, 100_000
D_LR, WIDTH = 100, 100


# ---- problems ------------------------------------------------------------------------------
def logistic(X, y=None, subsample_size=None):
    """Bayesian logistic regression with N(0, 1) priors on the weights and the intercept."""
    w = ppl.sample("w", dist.Normal(0.0, 1.0).expand([X.shape[1]]).to_event(1))
    b = ppl.sample("b", dist.Normal(0.0, 1.0))
    with ppl.plate("data", X.shape[0], subsample_size=subsample_size) as idx:
        y_batch = None if y is None else y[idx]
        ppl.sample("y", dist.Bernoulli(logits=ops.matmul(X[idx], w) + b), obs=y_batch)


def logistic_data(n, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n + TEST_LR, D_LR)).astype(np.float32)
    w = 0.3 * rng.normal(size=D_LR)
    logits = X @ w + 0.5
    y = (rng.uniform(size=len(X)) < 1 / (1 + np.exp(-logits))).astype(np.float32)
    return X[:n], y[:n], X[n:], y[n:]


def bnn_data(n, seed=0):
    X, y = friedman_data(N=n + TEST_BNN, D=100, seed=seed)
    X, y = X.astype(np.float32), y.astype(np.float32)
    return X[:n], y[:n], X[n:], y[n:]


def _log_sigmoid(x):
    return -np.logaddexp(0.0, -x)


def lppd_logistic(w, b, X, y):
    """``w``: (S, D), ``b``: (S,) draws: mean over rows of log mean_s p(y | x, w_s, b_s)."""
    out = np.zeros(len(X))
    for first in range(0, len(X), 10_000):  # (S, rows) in chunks: memory
        logits = X[first : first + 10_000].astype(np.float64) @ w.T + b  # (rows, S)
        yy = y[first : first + 10_000, None]
        ll = yy * _log_sigmoid(logits) + (1 - yy) * _log_sigmoid(-logits)
        out[first : first + 10_000] = np.logaddexp.reduce(ll, axis=1) - math.log(ll.shape[1])
    return float(out.mean())


def lppd_bnn(samples, X, y):
    out, sigma = [], np.asarray(samples["sigma"]).reshape(-1)
    for first in range(0, len(X), 500):
        f = deep_bnn_predict(samples, X[first : first + 500]).astype(np.float64)  # (S, rows)
        yy = y[first : first + 500][None]
        ll = -0.5 * ((yy - f) / sigma[:, None]) ** 2 - np.log(
            sigma[:, None] * math.sqrt(2 * math.pi)
        )
        out.append(np.logaddexp.reduce(ll, axis=0) - math.log(len(sigma)))
    return float(np.concatenate(out).mean())


def trivial_lppd(kind, ytr, yte):
    if kind == "bnn":
        m, s = ytr.mean(), ytr.std()
        return float(np.mean(-0.5 * ((yte - m) / s) ** 2 - np.log(s * math.sqrt(2 * math.pi))))
    p = ytr.mean()
    return float(np.mean(yte * math.log(p) + (1 - yte) * math.log(1 - p)))


def laplace_reference(X, y):
    """The MAP point and the Laplace sds (float64 Newton on the full data, prior N(0, 1))."""
    A = np.concatenate([X, np.ones((len(X), 1), np.float32)], axis=1)
    theta = np.zeros(A.shape[1])
    for _ in range(50):
        grad, hess = theta.copy(), np.eye(A.shape[1])  # the prior's
        for first in range(0, len(A), 100_000):
            a = A[first : first + 100_000].astype(np.float64)
            p = 1 / (1 + np.exp(-(a @ theta)))
            grad -= a.T @ (y[first : first + 100_000] - p)
            hess += (a * (p * (1 - p))[:, None]).T @ a
        step = np.linalg.solve(hess, grad)
        theta -= step
        if np.linalg.norm(grad) < 1e-6 or np.abs(step).max() < 1e-10:
            break
    return theta, np.sqrt(np.diag(np.linalg.inv(hess)))


# ---- ppl rows ------------------------------------------------------------------------------
def run_ppl(kind, method, backend, Xtr, ytr, args):
    steps = args.num_warmup + args.num_samples
    model = deep_bnn_regression if kind == "bnn" else logistic
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the samplers' few-effective-draws warnings
        t0 = time.perf_counter()
        _STEPS_DONE.clear()
        if method == "svi":
            post = ppl.infer(
                model, "svi", args=(Xtr,), kwargs={"y": ytr, "subsample_size": args.batch},
                backend=backend, seed=0, progress=False, num_samples=args.num_samples,
            )  # fmt: skip
        else:
            post = ppl.infer(
                model, method, args=(Xtr,), kwargs={"y": ytr}, backend=backend, seed=0,
                progress=False, batch_size=args.batch, num_warmup=args.num_warmup,
                num_samples=args.num_samples,
            )  # fmt: skip
        wall = time.perf_counter() - t0
    t = post.timings
    if method == "svi":
        steps = _svi_steps(post)
    return post, {
        "init": t.get("init_seconds", float("nan")),
        "compile": t.get("compile_seconds", float("nan")),
        "us_step": 1e6 * t["run_seconds"] / steps if steps else float("nan"),
        "steps": steps,
        "wall": wall,
    }


def _svi_steps(post):
    return _STEPS_DONE[-1] if _STEPS_DONE else None


#: the steps the driver has run, chunk by chunk (``svi`` stops early; its ``Posterior`` does
#: not say after how many steps): recorded through the driver's ``after_chunk`` hook
_STEPS_DONE: list[int] = []


def _record_steps():
    import ppl.inference.driver as driver

    original = driver.after_chunk

    def after_chunk(group, steps_done):
        _STEPS_DONE.append(steps_done)
        original(group, steps_done)

    driver.after_chunk = after_chunk


# ---- BlackJAX rows -------------------------------------------------------------------------
def blackjax_rows(kind, Xtr, ytr, args):
    """``{(sampler, step): (draws dict, us per gradient step, compile s)}``."""
    import blackjax
    import jax
    import jax.numpy as jnp

    N, B = len(Xtr), args.batch
    xj, yj = jnp.asarray(Xtr), jnp.asarray(ytr)
    rng = np.random.default_rng(0)
    if kind == "logistic":
        dim = D_LR + 1
        log_prior, log_lik = logistic_log_density(D_LR)

        z0 = jnp.asarray(rng.normal(size=dim).astype(np.float32))

        def to_samples(z):
            return {"w": z[..., :D_LR], "b": z[..., D_LR]}

    else:
        shapes = [(100, WIDTH), (WIDTH,), (WIDTH, WIDTH), (WIDTH,), (WIDTH,), ()]
        scales = [0.1, 1.0, 1.0 / math.sqrt(WIDTH), 1.0, 1.0 / math.sqrt(WIDTH), 1.0]
        sizes = [int(np.prod(s)) for s in shapes]
        offsets = np.cumsum([0, *sizes])
        dim = int(offsets[-1]) + 1  # and log sigma (HalfNormal(1) prior, with its Jacobian)

        def unpack(z):
            return [
                z[..., a:b].reshape(*z.shape[:-1], *s)
                for a, b, s in zip(offsets, offsets[1:], shapes)
            ]

        def log_prior(z):
            parts = unpack(z)
            lp = sum(jax.scipy.stats.norm.logpdf(p, 0.0, s).sum() for p, s in zip(parts, scales))
            log_sigma = z[-1]
            return lp + jax.scipy.stats.norm.logpdf(jnp.exp(log_sigma)) + math.log(2) + log_sigma

        def log_lik(z, batch):
            xb, yb = batch
            w1, b1, w2, b2, w3, b3 = unpack(z)
            h = jnp.tanh(jnp.tanh(xb @ w1 + b1) @ w2 + b2)
            return jax.scipy.stats.norm.logpdf(yb, h @ w3 + b3, jnp.exp(z[-1])).sum()

        z0 = jnp.concatenate(
            [
                jnp.asarray((s * rng.normal(size=n)).astype(np.float32))
                for s, n in zip(scales, sizes)
            ]
            + [jnp.zeros(1, jnp.float32)]
        )

        def to_samples(z):
            names = ("w1", "b1", "w2", "b2", "w3", "b3")
            out = dict(zip(names, unpack(z)))
            out["sigma"] = jnp.exp(z[..., -1])
            return out

    def minibatch(key):  # how BlackJAX's users draw a minibatch
        idx = jax.random.randint(key, (B,), 0, N)
        return xj[idx], yj[idx]

    grad_est = blackjax.sgmcmc.gradients.grad_estimator(log_prior, log_lik, N)
    total = args.num_warmup + args.num_samples
    out = {}
    for sampler in ("sgld", "sghmc"):
        per_call = 1 if sampler == "sgld" else SGHMC_STEPS
        kernel = (
            blackjax.sgld(grad_est)
            if sampler == "sgld"
            else blackjax.sghmc(grad_est, num_integration_steps=SGHMC_STEPS)
        )
        calls = total // per_call
        warm_calls = args.num_warmup // per_call

        def one(z, key, eps, kernel=kernel):
            k1, k2 = jax.random.split(key)
            z = kernel.step(k2, z, minibatch(k1), eps)
            return z, z

        def scan_all(z, keys, eps, one=one):
            def body(carry, key):
                return one(carry, key, eps)

            return jax.lax.scan(body, z, keys)[1]

        run = jax.jit(scan_all)
        keys = jax.random.split(jax.random.PRNGKey(0), calls)
        first_compile = 0.0
        for eps in BLACKJAX_STEPS[kind, sampler]:
            t0 = time.perf_counter()
            compiled = run.lower(z0, keys, jnp.float32(eps)).compile()
            compile_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            path = compiled(z0, keys, jnp.float32(eps)).block_until_ready()
            us = 1e6 * (time.perf_counter() - t0) / (calls * per_call)
            kept = np.asarray(path[warm_calls:])
            draws = {k: np.asarray(v)[None] for k, v in to_samples(jnp.asarray(kept)).items()}
            if eps == BLACKJAX_STEPS[kind, sampler][0]:
                first_compile = compile_s
            out[(sampler, eps)] = (draws, us, first_compile, bool(np.isfinite(kept).all()))
    return out


# ---- tables --------------------------------------------------------------------------------
def evaluate(kind, samples, Xte, yte, ref):
    if kind == "bnn":
        return {"lppd": lppd_bnn(samples, Xte, yte)}
    w = np.asarray(samples["w"]).reshape(-1, D_LR).astype(np.float64)
    b = np.asarray(samples["b"]).reshape(-1).astype(np.float64)
    row = {"lppd": lppd_logistic(w, b, Xte, yte)}
    theta = np.concatenate([w, b[:, None]], axis=1)
    mean_ref, sd_ref = ref
    err = np.abs(theta.mean(0) - mean_ref) / sd_ref
    row.update(
        max_err=float(err.max()),
        med_err=float(np.median(err)),
        sd_ratio=float(np.median(theta.std(0) / sd_ref)),
    )
    return row


def fmt(v, digits=3):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:.{digits}f}" if isinstance(v, float) else str(v)


def run_problem(kind, args):
    n = args.bnn_n if kind == "bnn" else args.lr_n
    Xtr, ytr, Xte, yte = (bnn_data if kind == "bnn" else logistic_data)(n)
    ref = None
    if kind == "logistic":
        t0 = time.perf_counter()
        ref = laplace_reference(Xtr, ytr)
        print(f"\nLaplace reference at N={n}: {time.perf_counter() - t0:.1f} s", flush=True)
    header = f"\n### {kind}: N={n:,}, held out {len(Xte):,}, batch {args.batch}"
    if kind == "bnn":
        header += f", {deep_bnn_weights(100, WIDTH):,} weights + sigma"
    print(header)
    print(f"trivial predictor's held-out lppd: {trivial_lppd(kind, ytr, yte):.4f}\n")
    cols = "| backend | method | init s | compile s | us/step | steps | held-out lppd |"
    if kind == "logistic":
        cols += " max mean err (ref sd) | median mean err | median sd / ref sd |"
    print(cols)
    print("|" + "---|" * (cols.count("|") - 1), flush=True)
    for backend in args.backends:
        for method in [*args.methods, *(["svi"] if args.svi else [])]:
            try:
                post, t = run_ppl(kind, method, backend, Xtr, ytr, args)
            except Exception as exc:  # noqa: BLE001 - a row that fails is reported, not fatal
                print(f"| {backend} | {method} | failed: {type(exc).__name__}: {exc} |", flush=True)
                continue
            e = evaluate(kind, post.samples, Xte, yte, ref)
            _row(backend, method, t["init"], t["compile"], t["us_step"], t["steps"], e, kind)
    if args.blackjax and "numpyro" in args.backends:
        rows = blackjax_rows(kind, Xtr, ytr, args)
        best = {}
        for (sampler, eps), (draws, us, compile_s, finite) in rows.items():
            e = evaluate(kind, draws, Xte, yte, ref) if finite else {"lppd": float("-inf")}
            print(f"<!-- blackjax.{sampler} step {eps:g}: lppd {e['lppd']:.4f} {e} -->", flush=True)
            if sampler not in best or e["lppd"] > best[sampler][0]["lppd"]:
                best[sampler] = (e, us, compile_s, eps)
        steps = args.num_warmup + args.num_samples
        for sampler, (e, us, compile_s, eps) in best.items():
            label = f"blackjax.{sampler} (step {eps:g}, best of grid)"
            _row("jax", label, 0.0, compile_s, us, steps, e, kind)


def _row(backend, method, init, compile_s, us, steps, e, kind):
    cells = [
        backend,
        method,
        fmt(init, 1),
        fmt(compile_s, 2),
        fmt(us, 1),
        fmt(steps),
        fmt(e["lppd"], 4),
    ]
    if kind == "logistic":
        cells += [fmt(e.get("max_err")), fmt(e.get("med_err")), fmt(e.get("sd_ratio"))]
    print("| " + " | ".join(cells) + " |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--problems", nargs="+", default=["bnn", "logistic"], choices=["bnn", "logistic"]
    )
    parser.add_argument("--backends", nargs="+", default=["numpyro"])
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    parser.add_argument("--bnn-n", type=int, default=10_000)
    parser.add_argument("--lr-n", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--num-warmup", type=int, default=1000)
    parser.add_argument("--num-samples", type=int, default=1000)
    parser.add_argument("--no-svi", dest="svi", action="store_false")
    parser.add_argument("--no-blackjax", dest="blackjax", action="store_false")
    parser.add_argument("--quick", action="store_true", help="2,000 / 20,000 rows, 200 + 200 steps")
    args = parser.parse_args()
    if args.quick:
        args.bnn_n, args.lr_n, args.num_warmup, args.num_samples = 2_000, 20_000, 200, 200
    _record_steps()
    print(f"date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; args {vars(args)}")
    for kind in args.problems:
        run_problem(kind, args)


if __name__ == "__main__":
    main()
