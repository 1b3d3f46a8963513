"""Per-step time of every SG-MCMC sampler against BlackJAX, a hand-written torch loop, and the
floor (a bare compiled minibatch value-and-grad), on Bayesian logistic regression.

N=100,000 data points (``--n``), D=20 features, minibatches of 100. Every baseline draws its
minibatch as its users do: ``jax.random.randint(key, (B,), 0, N)`` for BlackJAX,
``torch.randint(N, (B,))`` for the hand-written torch loop (i.i.d., with replacement; ``ppl``
draws the same way, ``minibatch_indices`` in ``ppl/backends/*/problem.py``);
``floor (hand-written loss, NumPyro's subsample)`` shows what NumPyro's own O(N) draw would
cost. Compile time is reported separately; per-step times are the median of ``--repeats`` runs.
BlackJAX's SGHMC resamples the momentum at every call and runs ``num_integration_steps=10``
gradient steps in it (with 1 step the gradient never reaches the returned position and XLA
drops it), so its time is reported per gradient step (a call's time / 10). torch runs on one
thread (``torch.set_num_threads(1)``) for every torch row alike: on a shared 2-core machine
torch's intra-op threads otherwise spin against other processes and times swing by 10-50x.
On Pyro every sampler is timed twice: as is (value and gradient from one recorded TorchScript
graph), and with ``compile=True`` (that graph compiled by ``torch.compile``); the time to build
either is in the compile column.

Run: ``.venv/bin/python benchmarks/sgmcmc_speed.py`` (a Markdown table on stdout);
``--headline``: only NumPyro ``sgld`` / ``blackjax.sgld`` and Pyro ``sgld`` / the hand loop,
each pair timed in alternation; ``--backends pyro`` (or ``numpyro``) keeps that backend's rows.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import ppl
from ppl import dist, ops

N, D, B = 100_000, 20, 100  # N: set by --n
SGHMC_STEPS = 10
METHODS = {
    "sgld": {},
    "psgld": {},
    "sghmc": {},
    "sgnht": {},
    "cyclical_sgld": {},
    "structured_sgmcmc": {"groups": "sites"},
}


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, D)).astype(np.float32)
    w = rng.normal(size=D).astype(np.float32)
    y = (rng.uniform(size=N) < 1 / (1 + np.exp(-(x @ w)))).astype(np.float32)
    return x, y


def model(x, y):
    w = ppl.sample("w", dist.Normal(0.0, 1.0).expand([x.shape[1]]).to_event(1))
    b = ppl.sample("b", dist.Normal(0.0, 1.0))
    with ppl.plate("data", x.shape[0], subsample_size=B) as idx:
        ppl.sample("y", dist.Bernoulli(logits=ops.matmul(x[idx], w) + b), obs=y[idx])


def time_ppl(method, backend, x, y, steps, repeats, compile=False):
    per_step, compile_s = [], []
    for r in range(repeats):
        post = ppl.infer(
            model, method, args=(x, y), backend=backend, seed=r, progress=False,
            num_warmup=0, num_samples=steps, step_size=1e-4, compile=compile, **METHODS[method],
        )  # fmt: skip
        per_step.append(post.timings["run_seconds"] / steps)
        compile_s.append(post.timings["compile_seconds"])
    return statistics.median(per_step), statistics.median(compile_s)


def _median_run(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def jax_baselines(x, y, steps, repeats):
    return {
        name: (_median_run(run, repeats) / count, compile_s)
        for name, (run, count, compile_s) in jax_runners(x, y, steps).items()
    }


def logistic_log_density(D):
    """``(log_prior, log_lik)`` of Bayesian logistic regression with ``D`` weights and an
    intercept (``z[D]``), standard normal priors, as JAX functions for BlackJAX:
    ``log_lik(z, (x_batch, y_batch))`` sums over the batch."""
    import jax

    def log_prior(z):
        return jax.scipy.stats.norm.logpdf(z).sum()

    def log_lik(z, batch):
        xb, yb = batch
        logits = xb @ z[:D] + z[D]
        return (yb * jax.nn.log_sigmoid(logits) + (1 - yb) * jax.nn.log_sigmoid(-logits)).sum()

    return log_prior, log_lik


def jax_runners(x, y, steps):
    """``{name: (run, steps_per_run, compile_seconds)}`` of the JAX baselines, compiled."""
    import blackjax
    import jax
    import jax.numpy as jnp
    from numpyro.primitives import _subsample_fn

    xj, yj = jnp.asarray(x), jnp.asarray(y)
    log_prior, log_lik = logistic_log_density(D)

    def randint(size, batch, key):  # how BlackJAX's users draw a minibatch
        return jax.random.randint(key, (batch,), 0, size)

    def minibatch(key, draw=randint):
        idx = draw(N, B, key)
        return xj[idx], yj[idx]

    def potential(z, batch):
        return -(log_prior(z) + N / B * log_lik(z, batch))

    grad_est = blackjax.sgmcmc.gradients.grad_estimator(log_prior, log_lik, N)
    sgld = blackjax.sgld(grad_est)
    sghmc = blackjax.sghmc(grad_est, num_integration_steps=SGHMC_STEPS)

    def floor_step(z, key):
        _, g = jax.value_and_grad(potential)(z, minibatch(key))
        return z - 1e-6 * g, None

    def numpyro_draw_floor_step(z, key):
        _, g = jax.value_and_grad(potential)(z, minibatch(key, _subsample_fn))
        return z - 1e-6 * g, None

    backend = ppl.get_backend("numpyro")
    problem = backend.problem(model, backend.convert_args((x, y))[0])

    def model_floor_step(z, key):
        _, g = jax.value_and_grad(problem.potential)(z, key)
        return z - 1e-6 * g, None

    def sgld_step(z, key):
        k1, k2 = jax.random.split(key)
        return sgld.step(k2, z, minibatch(k1), 1e-4), None

    def sghmc_step(z, key):
        k1, k2 = jax.random.split(key)
        return sghmc.step(k2, z, minibatch(k1), 1e-4), None

    out = {}
    z0 = jnp.zeros(D + 1, dtype=jnp.float32)
    keys = jax.random.split(jax.random.PRNGKey(0), steps)
    for name, step, grads in [
        ("floor (ppl's potential: bare jitted value-and-grad)", model_floor_step, 1),
        ("floor (hand-written loss)", floor_step, 1),
        ("floor (hand-written loss, NumPyro's subsample)", numpyro_draw_floor_step, 1),
        ("blackjax.sgld", sgld_step, 1),
        (f"blackjax.sghmc (per gradient, L={SGHMC_STEPS})", sghmc_step, SGHMC_STEPS),
    ]:
        run = jax.jit(lambda z, k, step=step: jax.lax.scan(step, z, k)[0])
        calls = keys[: max(1, steps // grads)]
        t0 = time.perf_counter()
        compiled = run.lower(z0, calls).compile()
        compile_s = time.perf_counter() - t0
        run_once = lambda f=compiled, k=calls: f(z0, k).block_until_ready()  # noqa: E731
        out[name] = (run_once, len(calls) * grads, compile_s)
    return out


def torch_baselines(x, y, steps, repeats):
    return {
        name: (_median_run(run, repeats) / steps, 0.0)
        for name, run in torch_runners(x, y, steps).items()
    }


def torch_runners(x, y, steps):
    """``{name: run}`` of the torch baselines, each ``steps`` steps."""
    import torch

    torch.set_num_threads(1)
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    bce = torch.nn.functional.binary_cross_entropy_with_logits

    def potential(z, idx):
        logits = xt[idx] @ z[:D] + z[D]
        return 0.5 * (z * z).sum() + N / B * bce(logits, yt[idx], reduction="sum")

    def loop(update):
        generator = torch.Generator().manual_seed(0)
        z = torch.zeros(D + 1)
        for _ in range(steps):
            idx = torch.randint(N, (B,), generator=generator)
            z.requires_grad_(True)
            (g,) = torch.autograd.grad(potential(z, idx), z)
            with torch.no_grad():
                z = update(z.detach(), g)

    def sgld(z, g, eps=1e-4):
        return z - 0.5 * eps * g + eps**0.5 * torch.randn_like(z)

    def floor(z, g):
        return z - 1e-6 * g

    backend = ppl.get_backend("pyro")
    problem = backend.problem(model, backend.convert_args((x, y))[0])
    value_and_grad = backend.value_and_grad(problem.potential)
    step_keys = backend.split(backend.key(0), steps)

    def model_floor():
        z = problem.init(backend.key(1))
        for k in step_keys:
            _, g = value_and_grad(z, k)
            z = z - 1e-6 * g

    return {
        "floor (ppl's potential: bare value-and-grad loop)": model_floor,
        "floor (hand-written loss)": lambda: loop(floor),
        "hand-written SGLD loop": lambda: loop(sgld),
    }


def headline(x, y, args):
    """The issue's two ratios, each pair timed in alternation (one run of each per repeat), so
    that load from other processes on a shared machine falls on both alike: NumPyro ``sgld``
    against ``blackjax.sgld``, Pyro ``sgld`` (default options and ``compile=True``) against the
    hand-written torch SGLD loop, all with ``randint`` minibatches. Median per-step times and
    the median of the per-repeat ratios. Compile seconds: the process's first call (outside
    the timings; it may fill inductor's on-disk cache) and the median of the timed calls."""
    jax_run, jax_count, _ = jax_runners(x, y, args.steps_jax)["blackjax.sgld"]
    torch_run = torch_runners(x, y, args.steps_torch)["hand-written SGLD loop"]
    pairs = [
        ("numpyro", "blackjax.sgld", lambda: _median_run(jax_run, 1) / jax_count,
         lambda: time_ppl("sgld", "numpyro", x, y, args.steps_jax, 1), "ppl sgld"),
        ("pyro", "hand-written SGLD loop", lambda: _median_run(torch_run, 1) / args.steps_torch,
         lambda: time_ppl("sgld", "pyro", x, y, args.steps_torch, 1), "ppl sgld"),
        ("pyro", "hand-written SGLD loop", lambda: _median_run(torch_run, 1) / args.steps_torch,
         lambda: time_ppl("sgld", "pyro", x, y, args.steps_torch, 1, compile=True),
         "ppl sgld (compile=True)"),
    ]  # fmt: skip
    pairs = [pair for pair in pairs if pair[0] in args.backends]
    print("| backend | baseline (us) | ppl (us) | ppl / baseline (median of repeats) | "
          "ppl compile (s): first, median of the rest |")  # fmt: skip
    print("|---|---|---|---:|---:|")
    for backend, base_name, base, ours, our_name in pairs:
        first_compile = ours()[1]  # the first call's compile, outside the timings
        times, compiles = [], []
        for _ in range(args.repeats):
            base_time, (our_time, compile_s) = base(), ours()
            times.append((base_time, our_time))
            compiles.append(compile_s)
        ratio = statistics.median(o / b for b, o in times)
        b_med, o_med = (statistics.median(t[i] for t in times) for i in (0, 1))
        print(f"| {backend} | {base_name}: {b_med * 1e6:.1f} | {our_name}: {o_med * 1e6:.1f} | "
              f"{ratio:.2f}x | {first_compile:.2f}, {statistics.median(compiles):.2f} |",
              flush=True)  # fmt: skip


def main():
    global N
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n", type=int, default=N, help="data points")
    parser.add_argument("--steps-jax", type=int, default=2000)
    parser.add_argument("--steps-torch", type=int, default=300)
    parser.add_argument("--headline", action="store_true", help="only the issue's two ratios")
    parser.add_argument(
        "--backends",
        nargs="+",
        default=["numpyro", "pyro"],
        choices=["numpyro", "pyro"],
        help="with --headline: the rows of these backends only",
    )
    args = parser.parse_args()
    N = args.n
    x, y = data()
    if args.headline:
        return headline(x, y, args)
    rows = []
    print(f"N={N}, D={D}, batch={B}, repeats={args.repeats}, steps: jax {args.steps_jax}, "
          f"torch {args.steps_torch}\n")  # fmt: skip
    for backend, steps, baselines in [
        ("numpyro", args.steps_jax, jax_baselines),
        ("pyro", args.steps_torch, torch_baselines),
    ]:
        base = baselines(x, y, steps, args.repeats)
        reference = base.get("blackjax.sgld", base.get("hand-written SGLD loop"))[0]
        for name, (sec, comp) in base.items():
            rows.append((backend, name, sec, comp, sec / reference))
        for method in METHODS:
            sec, comp = time_ppl(method, backend, x, y, steps, args.repeats)
            rows.append((backend, f"ppl {method}", sec, comp, sec / reference))
        for method in METHODS if backend == "pyro" else ():
            sec, comp = time_ppl(method, backend, x, y, steps, args.repeats, compile=True)
            rows.append((backend, f"ppl {method} (compile=True)", sec, comp, sec / reference))
    print("| backend | sampler | per step (us) | compile (s) | vs BlackJAX sgld / hand loop |")
    print("|---|---|---:|---:|---:|")
    for backend, name, sec, comp, ratio in rows:
        print(f"| {backend} | {name} | {sec * 1e6:.1f} | {comp:.2f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
