# %% [markdown]
# # 07 · A variational autoencoder of handwritten digits, on both backends
#
# Why: a variational autoencoder (VAE; Kingma & Welling 2014) gives every image `x_i` its own
# latent code `z_i` (a *local* latent), and instead of fitting one posterior per image it trains
# an *encoder* network that maps an image to its code's posterior: inference is *amortized*.
# With `ppl` the model and the guide are written once, the networks are `ppl.nn.MLP`s
# registered with `ppl.module`, and `svi` trains both on minibatches (`batch_size=`), scaling
# the objective by `N / B` as Pyro and NumPyro do. The same code runs on Pyro and on NumPyro.
#
# We train the VAE of `ppl.models` (`vae_digits`: scikit-learn's 8x8 digits, binarized) with
# three objectives, the ELBO, the importance-weighted bound (IWAE, Burda et al. 2016) and the
# chi-square upper bound (`chi2`, CUBO; Dieng et al. 2017), and compare them by the held-out
# log-likelihood per image, estimated by importance sampling with the trained encoder.
# `PPL_SMOKE=1` runs a tiny version (the tests do): its numbers say nothing.

# %%
import os
import pathlib

import matplotlib.pyplot as plt
import numpy as np

import ppl
from ppl.models import amortized as vae

SMOKE = os.environ.get("PPL_SMOKE") == "1"
OUT = pathlib.Path("out") / "07_vae"
OUT.mkdir(parents=True, exist_ok=True)
FIGURES = ["reconstructions.png", "samples.png"]

# both backends, or the one `PPL_BACKEND` names
BACKENDS = [os.environ["PPL_BACKEND"]] if "PPL_BACKEND" in os.environ else ["numpyro", "pyro"]
OBJECTIVES = ["elbo", "iwae", "chi2"]
EPOCHS = 1 if SMOKE else 100
K_EVAL = 10 if SMOKE else 1000  # importance draws per held-out image
train, test = vae.digits()
STEPS = EPOCHS * int(np.ceil(len(train) / 100))

# %% [markdown]
# ## The model and the guide
#
# `vae.vae_model` decodes a standard-normal code into per-pixel Bernoulli logits;
# `vae.vae_guide` encodes an image into the mean and scale of its code. Both sit in the same
# `ppl.plate("data", N)`: `svi`'s `batch_size=100` makes it draw 100 images per step, in the
# model and the guide alike.
#
# `chi2` is an *upper* bound of `log p(x)`: minimizing it over the decoder's weights would push
# `log p(x)` down, so it cannot train the decoder by itself. With local latents and a model
# that has parameters, `svi` trains the two networks on two objectives from the same draws (as
# CHIVI learns a model, and reweighted wake-sleep a VAE): the encoder minimizes the CUBO (the
# forward chi-square, a mass-covering proposal), the decoder maximizes the IWAE bound, and
# stop-gradients give each network only its own objective's gradient. Its loss trace is the
# negative IWAE bound. `iwae` and `chi2` take 8 draws per image and step.

# %%
fits = {}
for backend in BACKENDS:
    for objective in OBJECTIVES:
        post = ppl.infer(
            vae.vae_model,
            "svi",
            args=(train,),
            guide=vae.vae_guide,
            objective=objective,
            num_particles=None if objective == "elbo" else 8,
            batch_size=100,
            num_steps=STEPS,
            lr=3e-3,
            lr_decay=1.0,
            tol=0,
            backend=backend,
            progress=False,
        )
        ll = post.held_out_log_likelihood((test,), num_particles=K_EVAL)
        fits[backend, objective] = post, ll
        print(
            f"{backend:8s} {objective:5s} held-out log p(x) per image: "
            f"{ll.mean:8.2f} +- {ll.stderr:.2f} nats  ({post.timings['run_seconds']:.1f} s)"
        )

# %% [markdown]
# The IWAE-trained model should reach a held-out log-likelihood at least as high as the
# ELBO-trained one: its bound is tighter, so the decoder is not pulled towards codes that the
# encoder can summarise by one Gaussian. The `chi2`-trained decoder maximizes the same IWAE
# bound, but with draws from a mass-covering encoder (fitted to the forward chi-square, whose
# score-function gradient is noisier than the reparameterized one).

# %% [markdown]
# ## Reconstructions and samples
#
# The trained networks are plain trees of arrays in `post.params` (`"decoder.0.w"`, ...):
# `ppl.nn.MLP.apply` runs them on any input.


# %%
def network(post, name, sizes):
    """``x -> mlp(x)`` with the fitted weights of module ``name``."""
    arrays = ppl.get_backend(BACKENDS[0]).arrays
    layers = [
        {
            "w": arrays.asarray(post.params[f"{name}.{i}.w"]),
            "b": arrays.asarray(post.params[f"{name}.{i}.b"]),
        }
        for i in range(len(sizes) - 1)
    ]
    mlp = ppl.nn.MLP(sizes)
    return lambda x: np.asarray(mlp.apply(arrays, layers, arrays.asarray(x)))


post, _ = fits[BACKENDS[0], "iwae"]
encoder = network(post, "encoder", [64, vae.HIDDEN, 2 * vae.LATENT_DIM])
decoder = network(post, "decoder", [vae.LATENT_DIM, vae.HIDDEN, 64])
codes = encoder(test[:10])[:, : vae.LATENT_DIM]
recon = 1.0 / (1.0 + np.exp(-decoder(codes)))
fig, axes = plt.subplots(2, 10, figsize=(10, 2.2))
for i in range(10):
    axes[0, i].imshow(test[i].reshape(8, 8), cmap="gray_r")
    axes[1, i].imshow(recon[i].reshape(8, 8), cmap="gray_r")
for ax in axes.ravel():
    ax.axis("off")
fig.suptitle(f"held-out digits (top) and their reconstructions (IWAE, {BACKENDS[0]})")
fig.savefig(OUT / "reconstructions.png", dpi=120)

z = np.random.default_rng(0).normal(size=(20, vae.LATENT_DIM))
samples = 1.0 / (1.0 + np.exp(-decoder(z)))
fig, axes = plt.subplots(2, 10, figsize=(10, 2.2))
for ax, image in zip(axes.ravel(), samples):
    ax.imshow(image.reshape(8, 8), cmap="gray_r")
    ax.axis("off")
fig.suptitle("digits decoded from codes drawn from the prior")
fig.savefig(OUT / "samples.png", dpi=120)

# %% [markdown]
# ## The held-out log-likelihood table

# %%
print("| backend | objective | held-out log p(x) / image (nats) |")
print("|---|---|---|")
for (backend, objective), (_, ll) in fits.items():
    print(f"| {backend} | {objective} | {ll.mean:.2f} +- {ll.stderr:.2f} |")
