"""The digits VAE (``ppl.models`` ``vae_digits``) fitted by ``ppl`` on each backend against the
same VAE written natively in Pyro and in NumPyro (their own SVI loop), in one run.

Same architecture (8-dimensional code; encoder 64-128-16 and decoder 8-128-64 MLPs with ReLU;
Bernoulli pixels of the binarized images), same budget (``--epochs`` of minibatches of 100,
drawn by each library's subsampled plate; Adam at a constant rate ``--lr``), same objective
(``--objective``; the native loops run ``Trace_ELBO``, so the native columns are ELBO-trained).
The weights' initialisation differs: ``ppl.nn.MLP`` is LeCun-normal, ``torch.nn.Linear``
Kaiming-uniform, stax's ``Dense`` Glorot-normal. Held-out log-likelihood per image (nats) is
the importance-sampling estimate with the trained encoder, ``--k`` draws per image (the same
formula for every row: ``ppl.inference.amortized.held_out_log_likelihood`` for ``ppl``, the
same sum written with each library for the native rows), with its standard error over the
360 test images. Time per epoch excludes compilation (the first step on JAX). torch runs on
one thread for every torch row alike (on a shared 2-core machine torch's intra-op threads spin
against other processes and a 100x64 matmul takes 100x as long). The machine is shared with
other work: compare times only as the ratio of rows run next to each other, alternated over
``--repeats``. ``--also iwae,chi2`` adds ``ppl`` rows trained with those objectives on each
backend, run once after the repeats (not timed against the native loops): ``chi2`` trains the
encoder on the CUBO and the decoder on the IWAE bound of the same draws.

Run: ``.venv/bin/python benchmarks/vae.py [--epochs 30] [--repeats 2] [--objective iwae]
[--also iwae,chi2]``
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np

import ppl
from ppl.models import amortized as vae

LATENT, HIDDEN, BATCH = vae.LATENT_DIM, vae.HIDDEN, 100


def steps_for(epochs: int, n: int) -> int:
    return epochs * math.ceil(n / BATCH)


#: draws per image and step of the importance-weighted objectives (``--objective``, ``--also``)
PARTICLES = {"iwae": 8, "renyi": 8, "chi2": 8}


def run_ppl(backend, train, test, epochs, lr, k, objective):
    post = ppl.infer(
        vae.vae_model,
        "svi",
        args=(train,),
        guide=vae.vae_guide,
        objective=objective,
        num_particles=PARTICLES.get(objective),
        batch_size=BATCH,
        num_steps=steps_for(epochs, len(train)),
        lr=lr,
        lr_decay=1.0,
        tol=0,
        backend=backend,
        progress=False,
        seed=0,
    )
    ll = post.held_out_log_likelihood((test,), num_particles=k)
    return ll.mean, ll.stderr, post.timings["run_seconds"] / epochs


def _held_out(log_weights: np.ndarray):
    """``(mean, stderr)`` over images of ``log mean_k exp(w_ki)``."""
    top = log_weights.max(axis=0)
    per_image = top + np.log(np.mean(np.exp(log_weights - top), axis=0))
    return float(per_image.mean()), float(per_image.std(ddof=1) / math.sqrt(len(per_image)))


def run_native_pyro(train, test, epochs, lr, k):
    import pyro
    import pyro.distributions as pdist
    import torch
    from torch import nn

    pyro.clear_param_store()
    pyro.set_rng_seed(0)
    n, pixels = train.shape
    decoder = nn.Sequential(nn.Linear(LATENT, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, pixels))
    encoder = nn.Sequential(nn.Linear(pixels, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 2 * LATENT))

    def encode(x):
        h = encoder(x)
        return h[..., :LATENT], nn.functional.softplus(h[..., LATENT:]) + 1e-3

    def model(x):
        pyro.module("decoder", decoder)
        with pyro.plate("data", n, subsample_size=BATCH) as idx:
            z = pyro.sample("z", pdist.Normal(0.0, 1.0).expand([LATENT]).to_event(1))
            pyro.sample("x", pdist.Bernoulli(logits=decoder(z)).to_event(1), obs=x[idx])

    def guide(x):
        pyro.module("encoder", encoder)
        with pyro.plate("data", n, subsample_size=BATCH) as idx:
            loc, scale = encode(x[idx])
            pyro.sample("z", pdist.Normal(loc, scale).to_event(1))

    x = torch.as_tensor(train)
    svi = pyro.infer.SVI(model, guide, pyro.optim.Adam({"lr": lr}), pyro.infer.Trace_ELBO())
    start = time.perf_counter()
    for _ in range(steps_for(epochs, n)):
        svi.step(x)
    per_epoch = (time.perf_counter() - start) / epochs
    with torch.no_grad():
        xt = torch.as_tensor(test)
        loc, scale = encode(xt)
        q = pdist.Normal(loc, scale).to_event(1)
        z = q.sample((k,))
        log_p = pdist.Bernoulli(logits=decoder(z)).to_event(1).log_prob(xt)
        log_p = log_p + pdist.Normal(0.0, 1.0).expand([LATENT]).to_event(1).log_prob(z)
        lw = (log_p - q.log_prob(z)).numpy()
    return (*_held_out(lw), per_epoch)


def run_native_numpyro(train, test, epochs, lr, k):
    import jax
    import jax.numpy as jnp
    import numpyro
    import numpyro.distributions as ndist
    import optax
    from jax.example_libraries import stax
    from numpyro.optim import optax_to_numpyro

    n, pixels = train.shape
    decoder_net = stax.serial(stax.Dense(HIDDEN), stax.Relu, stax.Dense(pixels))
    encoder_net = stax.serial(stax.Dense(HIDDEN), stax.Relu, stax.Dense(2 * LATENT))

    def encode(encoder, x):
        h = encoder(x)
        return h[..., :LATENT], jax.nn.softplus(h[..., LATENT:]) + 1e-3

    def model(x):
        decoder = numpyro.module("decoder", decoder_net, (BATCH, LATENT))
        with numpyro.plate("data", n, subsample_size=BATCH) as idx:
            z = numpyro.sample("z", ndist.Normal(0.0, 1.0).expand([LATENT]).to_event(1))
            numpyro.sample("x", ndist.Bernoulli(logits=decoder(z)).to_event(1), obs=x[idx])

    def guide(x):
        encoder = numpyro.module("encoder", encoder_net, (BATCH, pixels))
        with numpyro.plate("data", n, subsample_size=BATCH) as idx:
            loc, scale = encode(encoder, x[idx])
            numpyro.sample("z", ndist.Normal(loc, scale).to_event(1))

    x = jnp.asarray(train)
    optim = optax_to_numpyro(optax.adam(lr))
    svi = numpyro.infer.SVI(model, guide, optim, numpyro.infer.Trace_ELBO())
    state = svi.init(jax.random.PRNGKey(0), x)
    update = jax.jit(svi.update)
    state, loss = update(state, x)  # compiles
    loss.block_until_ready()
    start = time.perf_counter()
    for _ in range(steps_for(epochs, n) - 1):
        state, loss = update(state, x)
    loss.block_until_ready()
    per_epoch = (time.perf_counter() - start) / epochs
    params = svi.get_params(state)
    xt = jnp.asarray(test)
    loc, scale = encode(lambda v: encoder_net[1](params["encoder$params"], v), xt)
    q = ndist.Normal(loc, scale).to_event(1)
    z = q.sample(jax.random.PRNGKey(1), (k,))
    logits = decoder_net[1](params["decoder$params"], z)
    log_p = ndist.Bernoulli(logits=logits).to_event(1).log_prob(xt)
    log_p = log_p + ndist.Normal(0.0, 1.0).expand([LATENT]).to_event(1).log_prob(z)
    return (*_held_out(np.asarray(log_p - q.log_prob(z))), per_epoch)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--objective", default="elbo")
    parser.add_argument("--also", default="", help="more ppl objectives, comma-separated")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    train, test = vae.digits()
    rows = {
        "ppl numpyro": lambda: run_ppl(
            "numpyro", train, test, args.epochs, args.lr, args.k, args.objective
        ),
        "native NumPyro": lambda: run_native_numpyro(train, test, args.epochs, args.lr, args.k),
        "ppl pyro": lambda: run_ppl(
            "pyro", train, test, args.epochs, args.lr, args.k, args.objective
        ),
        "native Pyro": lambda: run_native_pyro(train, test, args.epochs, args.lr, args.k),
    }
    results = {name: [] for name in rows}
    for _ in range(args.repeats):  # alternated, so load drifts hit every row alike
        for name, fn in rows.items():
            results[name].append(fn())
    for objective in filter(None, args.also.split(",")):
        for backend in ("numpyro", "pyro"):
            results[f"ppl {backend} ({objective})"] = [
                run_ppl(backend, train, test, args.epochs, args.lr, args.k, objective)
            ]
    print(
        f"epochs={args.epochs} batch={BATCH} lr={args.lr} k={args.k} "
        f"objective(ppl)={args.objective}\n"
    )
    print("| run | held-out LL / image (nats) | s / epoch (median) |")
    print("|---|---|---|")
    for name, runs in results.items():
        ll, se, _ = runs[-1]
        per_epoch = statistics.median(r[2] for r in runs)
        print(f"| {name} | {ll:.2f} +- {se:.2f} | {per_epoch:.3f} |")
    for ours, native in (("ppl numpyro", "native NumPyro"), ("ppl pyro", "native Pyro")):
        ratios = [a[2] / b[2] for a, b in zip(results[ours], results[native])]
        print(
            f"\n{ours} / {native} time per epoch, per repeat: "
            + ", ".join(f"{r:.2f}" for r in ratios)
        )


if __name__ == "__main__":
    main()
